"""A configured scorer (:class:`ScorerSpec`): config parsing, validation and scoring.


Post-processing (any scorer, Baur et al. 2021): ``median: k`` (2-D median filter of the map,
k odd >= 3, reflect at the border), then ``erode: n`` (outside the brain mask eroded n times with
the 4-neighbour cross the map is ``guards.ERODED``, the lowest float32, below every score; brain
mask = ``input > 0`` unless given). Both are bounded by the image size
(``entries.postprocessing_bounds``: median <= image_size / 8, erode <= image_size / 16).

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

from residual_pitfalls.errors import ConfigError
from residual_pitfalls.scorers.builtin import SCORES, Scorer, residual
from residual_pitfalls.scorers.entries import check_entry
from residual_pitfalls.scorers.guards import (
    ERODED,
    as_float32_scores,
    check_param_types,
    private_copies,
)
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


def _resolve_one(name: str, entry: object, image_size: int | None = None) -> ScorerSpec:
    """:func:`~residual_pitfalls.scorers.entries.check_entry`, then the function imported and
    its signature matched to the params."""
    checked = check_entry(name, entry, image_size)
    key = f"scores.{name}"
    if checked.is_function:
        from residual_pitfalls.imports import import_object

        try:
            fn = import_object(checked.source, "function")
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"config key '{key}.function': {exc}") from exc
        if not callable(fn):
            raise ConfigError(f"config key '{key}.function': {checked.source!r} is not callable")
        scorer = Scorer(fn, None, needs_stats=checked.needs_stats)
    else:
        scorer = SCORES[checked.source]
    params, source = checked.params, checked.source
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
    check_param_types(scorer.fn, params, key, ConfigError)
    return ScorerSpec(name, scorer, dict(params), checked.median, checked.erode, source)


def resolve_scorers(
    config_scores: Mapping | None, image_size: int | None = None
) -> dict[str, ScorerSpec]:
    """Validate a config ``scores:`` mapping; returns name -> :class:`ScorerSpec` in its order.

    ``None`` (key absent) means all built-ins with their defaults. Raises
    :class:`~residual_pitfalls.config.ConfigError` naming ``scores.<name>...`` on an unknown
    name, unknown/missing params, a bad ``median``/``erode`` or a function that does not import,
    a built-in's name used for another scorer, a string for a param whose default is a number;
    with ``image_size``, also a ``median``/``erode`` beyond ``entries.postprocessing_bounds``.
    """
    if config_scores is None:
        return {name: ScorerSpec(name, s, source=name) for name, s in SCORES.items()}
    if not isinstance(config_scores, Mapping):
        raise ConfigError(f"config key 'scores': expected a mapping, got {config_scores!r}")
    return {
        str(name): _resolve_one(str(name), entry, image_size)
        for name, entry in config_scores.items()
    }


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


# Over ~60 lines only by its signature and docstring: the code itself is under 60 lines.
def score_maps(
    name_or_spec: ScorerSpec | str,
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    *,
    stats: HealthyStats | None = None,
    brain_masks: np.ndarray | None = None,
    batch_labels: list[str] | None = None,
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
        batch_labels: what each map of the batch is, for messages (default "image i").

    A bring-your-own scorer gets its own copies of ``inputs`` and ``reconstructions`` (what it
    does to them stays with it); its map is ranked as float32 (another dtype is cast when that
    keeps the order, else refused). ``erode`` sets the map outside the eroded brain mask to
    ``ERODED``, the lowest float32: those pixels rank below every score.

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
    given = (inputs, reconstructions)
    if spec.source not in SCORES:  # only the built-ins are known not to write into them
        given = private_copies(inputs, reconstructions)
    maps = np.asarray(spec.scorer.fn(*given, stats=stats, **spec.params))
    if maps.shape != inputs.shape:
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) returned shape {maps.shape}, "
            f"expected {inputs.shape} (N, H, W)"
        )
    if not (np.issubdtype(maps.dtype, np.floating) or np.issubdtype(maps.dtype, np.integer)):
        raise ScoreError(f"scorer {spec.name!r} ({spec.source}) returned dtype {maps.dtype}")
    finite = np.isfinite(maps).reshape(len(maps), -1).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        what = batch_labels or [f"image {i}" for i in range(len(maps))]
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) returned NaN or inf for {what[bad[0]]} "
            f"(all: {', '.join(what[i] for i in bad[:10])}); scores must be finite"
        )
    maps = as_float32_scores(maps, f"scorer {spec.name!r} ({spec.source})", ScoreError)
    if spec.median:
        maps = median_filter(maps, size=(1, spec.median, spec.median), mode="reflect")
    if spec.erode:
        mask = inputs > 0 if brain_masks is None else np.asarray(brain_masks, dtype=bool)
        if mask.shape != inputs.shape:
            raise ValueError(f"brain_masks have shape {mask.shape}, expected {inputs.shape}")
        mask = binary_erosion(mask, structure=_CROSS, iterations=spec.erode, border_value=0)
        maps = np.where(mask, maps, ERODED)
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
