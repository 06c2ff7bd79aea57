"""Guards around a scorer: what a scorer's call and its post-processing may do to the numbers.

Each guard closes a way the scorer zoo finished with wrong numbers without a word (issue 15):

- :func:`private_copies`: a bring-your-own scorer gets its own copies of the inputs and
  reconstructions; one that wrote into them changed every later result sharing the arrays
  (the painted images are reused across sigma, a reconstruction across textures);
- :func:`as_float32_scores`: maps are ranked as float32; a float64 map that float32 cannot
  rank the same way (``1e6 + |x - x_hat|``) is refused instead of cast;
- :data:`ERODED`: what ``erode`` writes outside the eroded brain mask, the lowest float32, so
  those pixels rank below every score (0 ranked them above every negative score);
- ``median`` and ``erode`` are bounded by the image size (``scorers.entries``, checked at
  parse time);
- :func:`check_param_types`: a param whose default is a number must be given a number (YAML
  1.1 reads ``1e3`` as a string, which ended in a NumPy ``UFuncTypeError``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "ERODED",
    "as_float32_scores",
    "check_param_types",
    "private_copies",
]

# Outside the eroded brain mask: below every score a scorer can return (finite, so the AP
# kernels and the finiteness checks take it; best_dice spans the scores above it).
ERODED = np.float32(np.finfo(np.float32).min)


def private_copies(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Fresh C-contiguous float32 copies (broadcast views materialised) for a scorer to own."""
    return tuple(np.array(a, dtype=np.float32, copy=True, order="C") for a in arrays)


def as_float32_scores(maps: np.ndarray, who: str, error: type[Exception]) -> np.ndarray:
    """``maps`` as float32 when that keeps their order; raises ``error`` naming ``who`` otherwise.

    float32 maps pass unchanged. Other dtypes are cast; when a value changes, the distinct
    values are sorted and any two neighbours that become equal in float32 (ties the scorer did
    not make, which change every AP) refuse the map. Call it on finite maps only.
    """
    if maps.dtype == np.float32:
        return maps
    with np.errstate(over="ignore"):
        out = maps.astype(np.float32)
    if not np.isfinite(out).all():
        raise error(
            f"{who} returned {maps.dtype} scores beyond the float32 range (largest magnitude "
            f"{float(np.abs(maps).max()):g}); return float32 scores"
        )
    if np.array_equal(out.astype(maps.dtype), maps):
        return out
    distinct = np.unique(maps.reshape(-1))
    cast = distinct.astype(np.float32)
    merged = np.flatnonzero(cast[1:] == cast[:-1])
    if merged.size:
        a, b = distinct[merged[0]], distinct[merged[0] + 1]
        raise error(
            f"{who} returned {maps.dtype} scores that float32 cannot tell apart: "
            f"{merged.size} pairs of neighbouring distinct scores become equal (e.g. {a!r} and "
            f"{b!r} both become {float(cast[merged[0]])!r}), and the maps are ranked as float32, "
            "so every AP would change. Return float32 scores (a constant offset such as "
            "1e6 + score does not change the ranking: leave it out)"
        )
    return out


def check_param_types(fn: Callable, params: Mapping, key: str, error: type[Exception]) -> None:
    """A param whose default in ``fn``'s signature is a number must be a number (not a string:
    YAML 1.1 reads ``1e3`` as the string '1e3'); raises ``error`` naming ``key.params.<name>``."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    for name, value in params.items():
        parameter = signature.parameters.get(name)
        if parameter is None or parameter.default is parameter.empty:
            continue
        default = parameter.default
        numeric = isinstance(default, int | float | np.number) and not isinstance(default, bool)
        if numeric and not (
            isinstance(value, int | float | np.number) and not isinstance(value, bool)
        ):
            hint = ""
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    hint = (
                        f" (YAML reads {value} as a string: write {float(value)!r} with a "
                        "decimal point, e.g. 1.0e3)"
                    )
            raise error(
                f"config key '{key}.params.{name}': expected a number like its default "
                f"{default!r}, got {type(value).__name__} {value!r}{hint}"
            )
