"""Issue 15: the scorer zoo's wrong numbers (items 1-4, the built-in redefinition, a string param,
the Exp 1 NaN message). Each test failed before its fix."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from residual_pitfalls.config import ConfigError
from residual_pitfalls.experiments.zoo import scored_texture_curves
from residual_pitfalls.metrics.segmentation import best_dice
from residual_pitfalls.scorers.builtin import Scorer
from residual_pitfalls.scorers.entries import postprocessing_bounds
from residual_pitfalls.scorers.fast_path import scored_intensity_sigma_grid
from residual_pitfalls.scorers.guards import ERODED
from residual_pitfalls.scorers.registry import ScorerSpec, resolve_scorers, score_maps
from residual_pitfalls.scorers.stats import ScoreError


def _slices(rng: np.random.Generator, n: int = 3, size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    brain = ((yy - size / 2) / (0.4 * size)) ** 2 + ((xx - size / 2) / (0.35 * size)) ** 2 < 1
    images = rng.uniform(0.2, 0.7, (n, size, size)).astype(np.float32) * brain
    return images.astype(np.float32)


def _plugin(fn, name: str = "mine", **kwargs) -> ScorerSpec:
    return ScorerSpec(name, Scorer(fn, None), source=f"test_module:{name}", **kwargs)


CENTRES = np.array([[16, 16], [15, 17], [17, 14]])
GRID = {"radius": 4, "intensities": np.linspace(0, 1, 5), "sigmas": np.array([0.0, 1.0])}


# --------------------------------------------------------------------------- 1: writing scorers


def _writer(inputs, reconstructions, *, stats=None):
    inputs *= 0.5  # a scorer that normalises its input in place
    reconstructions[:] = 0.0
    return np.abs(inputs - reconstructions)


def test_a_scorer_that_writes_into_its_arrays_changes_nothing_outside(rng):
    images = _slices(rng)
    recs = np.clip(images + rng.normal(0, 0.05, images.shape).astype(np.float32), 0, 1)
    before = images.copy(), recs.copy()
    maps = score_maps(_plugin(_writer), images, recs)
    np.testing.assert_array_equal(images, before[0])
    np.testing.assert_array_equal(recs, before[1])
    np.testing.assert_array_equal(maps, before[0] * np.float32(0.5))
    # Exp 2 paints the textures once and reuses them for every sigma: a writer must not change
    # the numbers of the scorer itself at later sigmas, nor of anything scored after it
    texture = {"anomalies": ["sink"], "radius": 4, "sigmas": np.array([0.0, 1.0, 2.0]), "seed": 0}
    halved = _plugin(lambda i, r, *, stats=None: np.abs(i * np.float32(0.5)))
    first = scored_texture_curves(images, CENTRES, spec=_plugin(_writer), **texture)
    clean = scored_texture_curves(images, CENTRES, spec=halved, **texture)
    np.testing.assert_array_equal(first["ap"].to_numpy(), clean["ap"].to_numpy())


# --------------------------------------------------------------------------- 2: erode


def _minus_one(inputs, reconstructions, *, stats=None):
    return np.abs(reconstructions - inputs) - np.float32(1)


@pytest.mark.parametrize("method", ["fast", "naive"])
def test_erode_ranks_the_eroded_pixels_below_every_score(rng, method):
    # residual - 1 has the residual's ranking; with erode the eroded pixels scored 0, above all
    images = _slices(rng)
    residual = resolve_scorers({"residual": {"erode": 1}})["residual"]
    shifted = _plugin(_minus_one, erode=1)
    a = scored_intensity_sigma_grid(images, CENTRES, spec=residual, method=method, **GRID)
    b = scored_intensity_sigma_grid(images, CENTRES, spec=shifted, method=method, **GRID)
    np.testing.assert_allclose(b["ap"].to_numpy(), a["ap"].to_numpy(), rtol=0, atol=1e-12)
    maps = score_maps(shifted, images, images)
    assert (maps[~(images > 0)] == ERODED).all()
    # best_dice spans the scores above the eroded pixels' value
    labels = np.zeros(images.shape, bool)
    labels[:, 14:18, 14:18] = True
    low = np.where(maps == ERODED, maps[maps > ERODED].min() - 1, maps)
    assert best_dice(labels, maps)[0] == best_dice(labels, low)[0]


# --------------------------------------------------------------------------- 3: float64 maps


def test_float64_scores_that_float32_cannot_rank_are_refused(rng):
    images = _slices(rng, 2)
    recs = np.clip(images + rng.normal(0, 0.05, images.shape).astype(np.float32), 0, 1)
    offset = _plugin(lambda i, r, *, stats=None: 1e6 + np.abs(i.astype(np.float64) - r), "offset")
    with pytest.raises(ScoreError, match=r"'offset'.*float64 scores that float32 cannot tell"):
        score_maps(offset, images, recs)
    # float64 scores whose order float32 keeps are taken, with that order
    exact = _plugin(lambda i, r, *, stats=None: np.abs(i.astype(np.float64) - r) ** 0.5, "root")
    maps = score_maps(exact, images, recs)
    assert maps.dtype == np.float32
    label = np.zeros(images.shape[1:], bool)
    label[14:18, 14:18] = True
    wanted = average_precision_score(
        label.ravel(), (np.abs(images[0].astype(np.float64) - recs[0]) ** 0.5).ravel()
    )
    assert average_precision_score(label.ravel(), maps[0].ravel()) == pytest.approx(wanted, 1e-12)


# --------------------------------------------------------------------------- 4: bounds


def test_median_and_erode_are_bounded_by_the_image_size():
    assert postprocessing_bounds(64) == (7, 4)
    assert postprocessing_bounds(256) == (31, 16)
    with pytest.raises(ConfigError, match=r"'scores\.ssim\.erode': 1000 .* 64 px images, 4"):
        resolve_scorers({"ssim": {"erode": 1000}}, image_size=64)
    with pytest.raises(ConfigError, match=r"'scores\.big\.median': 201 .* 64 px images, 7"):
        resolve_scorers({"big": {"scorer": "residual", "median": 201}}, image_size=64)
    ok = resolve_scorers({"ssim": {"erode": 4, "median": 7}}, image_size=64)
    assert ok["ssim"].erode == 4 and ok["ssim"].median == 7


# --------------------------------------------------------------------------- config errors


def test_a_built_in_name_cannot_be_redefined_by_another_scorer():
    with pytest.raises(ConfigError, match=r"'scores\.ssim\.scorer'.*'ssim' is a built-in"):
        resolve_scorers({"ssim": {"scorer": "residual"}})
    assert resolve_scorers({"ssim": {"scorer": "ssim", "median": 3}})["ssim"].median == 3


def test_a_string_for_a_numeric_param_names_the_scorer_and_param(tmp_path, monkeypatch):
    (tmp_path / "offset_scores.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def shifted(inputs, reconstructions, *, stats=None, offset=0.0):
                return np.abs(inputs - reconstructions) + offset
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = {"function": "offset_scores:shifted", "params": {"offset": "1e3"}}
    with pytest.raises(ConfigError, match=r"'scores\.mine\.params\.offset'.*'1e3'.*1000\.0"):
        resolve_scorers({"mine": entry})
    assert resolve_scorers({"mine": {**entry, "params": {"offset": 1.0e3}}})["mine"].params


def test_exp1_nan_message_names_the_intensity_not_an_image(rng):
    images = _slices(rng, 2)

    def nan_above_half(inputs, reconstructions, *, stats=None):
        out = np.abs(inputs - reconstructions)
        out[inputs > 0.9] = np.nan
        return out

    with pytest.raises(ScoreError, match=r"'nan'.*NaN or inf for intensity 1 \(index 4\)"):
        scored_intensity_sigma_grid(
            images, CENTRES[:2], spec=_plugin(nan_above_half, "nan"), **GRID
        )


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("scores: {ssim: {erode: 1000}}\n", "'scores.ssim.erode': 1000 erosions exceed"),
        ("scores: {ssim: {median: 201}}\n", "'scores.ssim.median': 201 is wider"),
        ("scores: {ssim: {scorer: residual}}\n", "'scores.ssim.scorer': 'ssim' is a built-in"),
    ],
)
def test_check_config_refuses_what_start_up_refuses(tmp_path, overlay, expected):
    import os
    import subprocess
    import sys

    from helpers import REPO, TINY

    (tmp_path / "my.yaml").write_text(overlay)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "residual_pitfalls.cli", "check-config", str(TINY), "my.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1 and expected in result.stderr, result.stderr
