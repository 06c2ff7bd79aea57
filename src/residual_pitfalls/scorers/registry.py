"""A configured scorer (:class:`ScorerSpec`): config parsing, validation and scoring.


Post-processing (any scorer, Baur et al. 2021): ``median: k`` (2-D median filter of the map,
k odd >= 3, reflect at the border), then ``erode: n`` (the map is zeroed outside the brain mask
eroded n times with the 4-neighbour cross; brain mask = ``input > 0`` unless given).

Configuration (``scores:`` of config.yaml), checked by :func:`resolve_scorers`::

    scores:
      residual: {}                       # a built-in with its defaults
      ssim_med5: {scorer: ssim, median: 5}   # a variant of a built-in
      mine: {function: "my_pkg.my_mod:my_score", params: {alpha: 2}, needs_stats: false}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import binary_erosion, median_filter

from residual_pitfalls.config import ConfigError
from residual_pitfalls.scorers.builtin import SCORES, Scorer, residual
from residual_pitfalls.scorers.stats import HealthyStats, ScoreError, _as_stack, healthy_stats

# --------------------------------------------------------------------------------------------
# specs (a configured scorer) and their validation


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer as configured: the function, its params and post-processing.

    ``median``: None or an odd int >= 3; ``erode``: erosions of the brain mask (0 = off);
    ``source``: the built-in name or the user's ``"pkg.mod:fn"``.
    """

    name: str
    scorer: Scorer
    params: dict = field(default_factory=dict)
    median: int | None = None
    erode: int = 0
    source: str = ""

    @property
    def needs_stats(self) -> bool:
        return self.scorer.needs_stats

    @property
    def reach(self) -> int | None:
        """Reach of the final map (scorer, median) plus the erosion's: None when unknown."""
        if self.scorer.reach is None:
            return None
        return self.scorer.reach + (self.median or 0) // 2 + self.erode

    def is_plain_residual(self) -> bool:
        """True for the paper's residual without post-processing (the existing Exp 1 engine)."""
        return self.scorer.fn is residual and not self.params and not self.median and not self.erode


def needs_stats(spec: ScorerSpec | str) -> bool:
    """Whether the scorer needs :class:`HealthyStats` (healthy training slices must exist)."""
    return _spec(spec).needs_stats


def _params_of(fn: Callable, key: str) -> tuple[set[str], set[str], bool]:
    """(accepted keyword names, required ones, takes **kwargs) of a scorer's params."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config key '{key}': cannot inspect the function: {exc}") from exc
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise ConfigError(
            f"config key '{key}': a scorer must take (inputs, reconstructions, *, stats, "
            f"**params); {fn.__name__}{sig} does not take two positional arguments"
        )
    rest = [p for p in params[2:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    names = {p.name for p in rest}
    if "stats" not in names and not var_kw:
        raise ConfigError(
            f"config key '{key}': a scorer must accept the keyword argument 'stats' "
            f"(inputs, reconstructions, *, stats, **params); {fn.__name__}{sig} does not"
        )
    required = {p.name for p in rest if p.default is p.empty} - {"stats"}
    return names - {"stats"}, required, var_kw


_ENTRY_KEYS = ("function", "scorer", "params", "median", "erode", "needs_stats")


def _check_int(value: object, key: str, expected: str, ok: Callable[[int], bool]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not ok(int(value)):
        raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")
    return int(value)


def _resolve_one(name: str, entry: object) -> ScorerSpec:
    key = f"scores.{name}"
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping (or {{}}), got {entry!r}")
    unknown = set(entry) - set(_ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"config key '{key}': unknown keys {sorted(unknown)} (allowed: {', '.join(_ENTRY_KEYS)})"
        )
    if "function" in entry and "scorer" in entry:
        raise ConfigError(f"config key '{key}': give either 'function' or 'scorer', not both")
    if "function" in entry:
        if name in SCORES:
            raise ConfigError(
                f"config key '{key}.function': {name!r} is a built-in scorer; give your scorer "
                "another name"
            )
        path = entry["function"]
        from residual_pitfalls.imports import import_object

        try:
            fn = import_object(path, "function")
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"config key '{key}.function': {exc}") from exc
        if not callable(fn):
            raise ConfigError(f"config key '{key}.function': {path!r} is not callable")
        flag = entry.get("needs_stats", False)
        if not isinstance(flag, bool):
            raise ConfigError(f"config key '{key}.needs_stats': expected true/false, got {flag!r}")
        scorer, source = Scorer(fn, None, needs_stats=flag), str(path)
    else:
        base = entry.get("scorer", name)
        if base not in SCORES:
            where = f"{key}.scorer" if "scorer" in entry else key
            raise ConfigError(
                f"config key '{where}': unknown scorer {base!r} (built-ins: "
                f"{', '.join(SCORES)}; or give 'function: \"pkg.module:fn\"')"
            )
        if "needs_stats" in entry:
            raise ConfigError(
                f"config key '{key}.needs_stats': only for user functions (built-in {base!r} "
                "knows whether it needs statistics)"
            )
        scorer, source = SCORES[base], base
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError(f"config key '{key}.params': expected a mapping, got {params!r}")
    accepted, required, var_kw = _params_of(scorer.fn, key)
    bad = set(params) - accepted if not var_kw else set(params) & {"stats"}
    if bad:
        raise ConfigError(
            f"config key '{key}.params': unknown params {sorted(bad)} for {source!r} "
            f"(accepted: {', '.join(sorted(accepted)) or 'none'})"
        )
    missing = required - set(params)
    if missing:
        raise ConfigError(f"config key '{key}.params': missing {sorted(missing)} for {source!r}")
    median = entry.get("median")
    if median is not None:
        median = _check_int(
            median, f"{key}.median", "an odd int >= 3 (or null)", lambda k: k >= 3 and k % 2 == 1
        )
    erode = _check_int(entry.get("erode", 0) or 0, f"{key}.erode", "an int >= 0", lambda n: n >= 0)
    return ScorerSpec(name, scorer, dict(params), median, erode, source)


def resolve_scorers(config_scores: Mapping | None) -> dict[str, ScorerSpec]:
    """Validate a config ``scores:`` mapping; returns name -> :class:`ScorerSpec` in its order.

    ``None`` (key absent) means all built-ins with their defaults. Raises
    :class:`~residual_pitfalls.config.ConfigError` naming ``scores.<name>...`` on an unknown
    name, unknown/missing params, a bad ``median``/``erode`` or a function that does not import.
    """
    if config_scores is None:
        return {name: ScorerSpec(name, s, source=name) for name, s in SCORES.items()}
    if not isinstance(config_scores, Mapping):
        raise ConfigError(f"config key 'scores': expected a mapping, got {config_scores!r}")
    return {str(name): _resolve_one(str(name), entry) for name, entry in config_scores.items()}


def _spec(name_or_spec: ScorerSpec | str) -> ScorerSpec:
    if isinstance(name_or_spec, ScorerSpec):
        return name_or_spec
    if name_or_spec not in SCORES:
        raise ValueError(f"unknown scorer {name_or_spec!r} (known: {', '.join(SCORES)})")
    return ScorerSpec(name_or_spec, SCORES[name_or_spec], source=name_or_spec)


# --------------------------------------------------------------------------------------------
# scoring


_CROSS = np.zeros((3, 3, 3), dtype=bool)
_CROSS[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]  # 4-neighbour erosion within each slice


def score_maps(
    name_or_spec: ScorerSpec | str,
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    *,
    stats: HealthyStats | None = None,
    brain_masks: np.ndarray | None = None,
) -> np.ndarray:
    """Anomaly maps of one scorer, with its post-processing, checked.

    Args:
        name_or_spec: a built-in name (defaults) or a :class:`ScorerSpec` from
            :func:`resolve_scorers`.
        inputs: ``(N, H, W)`` float32 images in [0, 1] (the possibly anomalous inputs).
        reconstructions: ``(N, H, W)`` float32, the reconstructions of ``inputs``.
        stats: :class:`HealthyStats` for scorers that need it, else ignored.
        brain_masks: ``(N, H, W)`` bool for ``erode``; default ``inputs > 0`` (pass the healthy
            slice's mask when the anomaly may paint zeros into the brain).

    Returns:
        ``(N, H, W)`` float32, higher = more anomalous.

    Raises:
        ScoreError naming the scorer (and the image) when its map has another shape or NaN/inf.
    """
    spec = _spec(name_or_spec)
    inputs = _as_stack(inputs, "inputs")
    reconstructions = _as_stack(reconstructions, "reconstructions")
    if inputs.shape != reconstructions.shape:
        raise ValueError(
            f"inputs have shape {inputs.shape} but reconstructions {reconstructions.shape}"
        )
    if spec.needs_stats and stats is None:
        raise ValueError(f"scorer {spec.name!r} needs healthy statistics; got stats=None")
    maps = spec.scorer.fn(inputs, reconstructions, stats=stats, **spec.params)
    maps = np.asarray(maps)
    if maps.shape != inputs.shape:
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) returned shape {maps.shape}, "
            f"expected {inputs.shape} (N, H, W)"
        )
    if not (np.issubdtype(maps.dtype, np.floating) or np.issubdtype(maps.dtype, np.integer)):
        raise ScoreError(f"scorer {spec.name!r} ({spec.source}) returned dtype {maps.dtype}")
    maps = maps.astype(np.float32, copy=False)
    finite = np.isfinite(maps).reshape(len(maps), -1).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) returned NaN or inf for image "
            f"{int(bad[0])} (images {bad[:10].tolist()}); scores must be finite"
        )
    if spec.median:
        maps = median_filter(maps, size=(1, spec.median, spec.median), mode="reflect")
    if spec.erode:
        mask = inputs > 0 if brain_masks is None else np.asarray(brain_masks, dtype=bool)
        if mask.shape != inputs.shape:
            raise ValueError(f"brain_masks have shape {mask.shape}, expected {inputs.shape}")
        mask = binary_erosion(mask, structure=_CROSS, iterations=spec.erode, border_value=0)
        maps = np.where(mask, maps, np.float32(0))
    return maps


def check_scorer(spec: ScorerSpec, stats: HealthyStats | None = None) -> None:
    """Start-up check: run the scorer on two small synthetic images (the stats' size if given;
    a scorer needing statistics gets those of the test batch when ``stats`` is None).

    Raises ScoreError naming the scorer when its map has another shape or NaN/inf, or it fails.
    """
    h, w = stats.shape if stats is not None else (16, 16)
    rng = np.random.default_rng([0, h, w])
    x = rng.random((2, h, w), dtype=np.float32)
    r = np.clip(x + rng.normal(0, 0.05, x.shape).astype(np.float32), 0, 1)
    if stats is None and spec.needs_stats:
        stats = healthy_stats(x, r)
    try:
        score_maps(spec, x, r, stats=stats)
    except ScoreError:
        raise
    except Exception as exc:
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) fails on a 2 x {h} x {w} test batch: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
