"""One fixed look per model and per scorer, in every figure.

A model's colour and marker depend only on its config key, never on which other models are
configured or in which order: the paper's six default models have fixed slots, any other key (your
own models) gets a slot from a hash of its name. Scorers get eight clearly distinct colours
(Okabe-Ito) and line styles the same way.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import pandas as pd

# the default config's models, in the paper's order
MODEL_SLOTS = {"ae128": 0, "ae64": 1, "ae32": 2, "sae1": 3, "sae2": 4, "vqvae": 5}
# Okabe-Ito's six colours for the six defaults (the "colorblind" palette's orange, vermillion and tan
# were hard to tell apart), then five more for your own models
MODEL_COLOURS = (
    "#0072b2",
    "#009e73",
    "#56b4e9",
    "#e69f00",
    "#cc79a7",
    "#d55e00",
    "#6a3d9a",
    "#8c564b",
    "#b8b800",
    "#1f9e89",
    "#444444",
)
MODEL_MARKERS = "osD^vPX*hp<>"

# Okabe & Ito's eight colours, distinct with colour-vision deficiency; residual (the paper's) black
SCORER_COLOURS = (
    "#000000",
    "#e69f00",
    "#56b4e9",
    "#009e73",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#999933",
)
SCORER_DASHES = ("", (4, 1.5), (1, 1), (5, 1.5, 1, 1.5), (2, 2), (6, 2, 1, 2, 1, 2))
SCORER_SLOTS = {
    "residual": 0,
    "positive_residual": 1,
    "ssim": 2,
    "msgms": 3,
    "residual_ssim": 4,
    "intensity": 5,
    "pixel_zscore": 6,
    "residual_zscore": 7,
}


def _hash(name: str) -> int:
    return zlib.crc32(name.encode())


def model_style(model: str) -> tuple[str, str]:
    """(colour, marker) of the model with config key `model`."""
    if model in MODEL_SLOTS:
        slot = MODEL_SLOTS[model]
        return MODEL_COLOURS[slot], MODEL_MARKERS[slot]
    h = _hash(model)
    spare = len(MODEL_COLOURS) - len(MODEL_SLOTS)
    return MODEL_COLOURS[len(MODEL_SLOTS) + h % spare], MODEL_MARKERS[h % len(MODEL_MARKERS)]


def scorer_style(score: str) -> tuple[str, tuple]:
    """(colour, dashes) of the scorer `score` (dashes: "" is a solid line, as seaborn takes it)."""
    slot = SCORER_SLOTS.get(score)
    if slot is None:
        h = _hash(score)
        return SCORER_COLOURS[1 + h % 7], SCORER_DASHES[1 + (h // 7) % (len(SCORER_DASHES) - 1)]
    return SCORER_COLOURS[slot], SCORER_DASHES[slot % len(SCORER_DASHES)]


def scorer_palette(scores: Iterable[str]) -> tuple[dict, dict]:
    """({score: colour}, {score: dashes}) for seaborn's `palette` and `dashes`."""
    styles = {s: scorer_style(s) for s in scores}
    return {s: c for s, (c, _) in styles.items()}, {s: d for s, (_, d) in styles.items()}


def model_styles(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """{label: (colour, marker)} of the models of a table with columns model, label."""
    if not {"model", "label"} <= set(table.columns):
        return {}
    pairs = table[["model", "label"]].drop_duplicates()
    return {
        label: model_style(model)
        for model, label in zip(pairs["model"], pairs["label"], strict=True)
    }
