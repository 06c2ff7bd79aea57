"""Numbers in README.md and docs/*.md rendered from a run's CSVs, never typed by hand.

A document marks each rendered part with a block::

    <!-- rendered:NAME -->
    (anything: replaced by RENDERERS[NAME](results))
    <!-- /rendered -->

`render_text` replaces the inside of every block with what its renderer makes of the CSVs in
`results` (the folder a run wrote: fig*.csv, scores_*.csv). A renderer reads only the files it
needs, takes every model and scorer it finds there (a user's own models included) and says which
file or column is missing. ``residual-pitfalls render-docs --results results/`` writes the blocks;
``--check`` only compares them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

BLOCK = re.compile(r"(<!-- rendered:([\w-]+) -->\n)(.*?)(<!-- /rendered -->)", flags=re.S)


class RenderError(ValueError):
    """A block names no renderer, or the run lacks a file or column a renderer reads."""


def read_csv(results: Path, name: str, columns: Iterable[str]) -> pd.DataFrame:
    """`results/<name>`, checked to have `columns` (an error names the file and what is missing)."""
    path = Path(results) / name
    if not path.is_file():
        raise RenderError(f"{path}: missing; rendering needs the CSVs of a finished run")
    table = pd.read_csv(path)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise RenderError(f"{path}: no column {', '.join(missing)} (has {', '.join(table)})")
    return table


def num(value: float, digits: int = 2) -> str:
    return "n/a" if pd.isna(value) else f"{value:.{digits}f}"


def at_least(name: str, value: float) -> str:
    """'AP = 1' or 'AP ≥ 0.999': a lower bound rounded down (0.9996 must not read as 1.000)."""
    return f"{name} = 1" if value >= 1 else f"{name} ≥ {np.floor(value * 1000) / 1000:.3f}"


def nearest(values: pd.Series, target: float) -> float:
    """The grid value nearest `target` (the grids are linspaces: 1 px is rarely on them)."""
    grid = np.unique(values.to_numpy())
    return float(grid[np.argmin(np.abs(grid - target))])


def blind_band(table: pd.DataFrame, sigma: float, threshold: float = 0.5) -> str:
    """'a–b': the hull of the intensities with mean AP < threshold at `sigma`; 'none' if none."""
    rows = table[np.isclose(table["sigma"], sigma)]
    blind = rows.loc[rows["ap"] < threshold, "intensity"]
    return "none" if blind.empty else f"{blind.min():.2f}–{blind.max():.2f}"


def headline(results: Path) -> str:
    """The README's bullet points on Figs. 1, 2 and 6 (simulated reconstructions)."""
    fig1a = read_csv(results, "fig1a.csv", ["intensity", "sigma", "ap"])
    fig1b = read_csv(results, "fig1b.csv", ["mean", "mode"])
    fig2 = read_csv(results, "fig2.csv", ["anomaly", "intensity"])
    fig6a = read_csv(results, "fig6a.csv", ["intensity", "sigma", "ap"])
    sigmas = {t: nearest(fig1a["sigma"], t) for t in (1, 2, 5)}
    shown = sorted(set(sigmas.values()))  # a small grid may map two targets to one sigma
    sharp = fig1a.loc[fig1a["sigma"] <= 0.25, "ap"].min()
    bands = ", ".join(f"{blind_band(fig1a, s)} at σ = {s:.2f}" for s in shown)
    at5 = fig1a[np.isclose(fig1a["sigma"], sigmas[5])].set_index("intensity")["ap"]
    worst = at5.idxmin()
    matched = fig2.loc[fig2["anomaly"] == "exp1_matched_intensity", "intensity"]
    eq5 = fig6a[np.isclose(fig6a["sigma"], sigmas[5])].set_index("intensity")["ap"]
    ends = (at5.index.min(), at5.index.max())
    return "\n".join(
        [
            f"- **Fig. 1(a)**: {at_least('AP', sharp)} for every intensity at σ ≤ 0.25; the blind "
            f"spot (mean AP < 0.5) covers intensities {bands}, deepest at {worst:.2f} at "
            f"σ = {sigmas[5]:.2f}, where the brain histogram has its mass (Fig. 1(b): mean "
            f"{num(fig1b['mean'].iloc[0])}, mode {num(fig1b['mode'].iloc[0])}).",
            f"- **Fig. 2**: the pixel-shuffle curve is matched best by the Exp. 1 intensity "
            f"{num(matched.iloc[0]) if len(matched) else 'n/a'}.",
            f"- **Fig. 6(a)**: after per-slice equalisation, at σ = {sigmas[5]:.2f} the AP is "
            f"{num(eq5.loc[ends[0]])} at intensity {ends[0]:g} and {num(eq5.loc[ends[1]])} at "
            f"{ends[1]:g} ({num(at5.loc[ends[0]])} and {num(at5.loc[ends[1]])} without).",
        ]
    )


def _matched(table: pd.DataFrame) -> pd.DataFrame:
    models = table[table["curve"] == "model"]
    return models.groupby("model", sort=False)[["label", "matched_sigma", "censored"]].first()


def _sigma(row: pd.Series) -> str:
    return (
        "n/a"
        if pd.isna(row["matched_sigma"])
        else (f"{row['matched_sigma']:.2f}" + (" (grid edge)" if bool(row["censored"]) else ""))
    )


def _configured_mode(fig3a: pd.DataFrame, modes: dict[str, pd.DataFrame]) -> str | None:
    """The BatchNorm mode Fig. 3(a) was computed in: the one whose matched σ it repeats."""
    for mode, table in modes.items():
        shared = fig3a.index.intersection(table.index)
        if len(shared) and np.allclose(
            fig3a.loc[shared, "matched_sigma"].astype(float),
            table.loc[shared, "matched_sigma"].astype(float),
            equal_nan=True,
        ):
            return str(mode)
    return None


def matched_sigma(results: Path) -> str:
    """Fig. 3(a): each model's matched blur σ, and how per-image BatchNorm moves it."""
    columns = ["model", "label", "matched_sigma", "censored", "curve"]
    fig3a = _matched(read_csv(results, "fig3a.csv", columns))  # the models, in the figure's order
    both = read_csv(results, "fig3a_per_image_bn.csv", [*columns, "batchnorm"])
    modes = {mode: _matched(rows) for mode, rows in both.groupby("batchnorm")}
    lines = [
        "| model | matched σ, eval BatchNorm | matched σ, per-image BatchNorm | change |",
        "|---|---|---|---|",
    ]
    configured = _configured_mode(fig3a, modes)
    for model, row in fig3a.iterrows():
        cells = [
            modes.get(m, pd.DataFrame()).reindex([model]).iloc[0] for m in ("eval", "per_image")
        ]
        if (
            model not in both["model"].values and configured
        ):  # drawn beside the paper's (fig3_modern)
            cells[("eval", "per_image").index(configured)] = row
        change = cells[1]["matched_sigma"] - cells[0]["matched_sigma"]
        lines.append(
            f"| {row['label']} | {_sigma(cells[0])} | {_sigma(cells[1])} | "
            f"{'n/a' if pd.isna(change) else f'{change:+.2f}'} |"
        )
    return "\n".join(lines)


def model_errors(results: Path) -> str:
    """Fig. 4(b): reconstruction error and mean Exp. 3.2 AP per model."""
    fig4b = read_csv(results, "fig4b.csv", ["model", "label", "reconstruction_error", "ap"])
    lines = ["| model | reconstruction error (healthy) | mean AP, Exp. 3.2 |", "|---|---|---|"]
    for _, row in fig4b.iterrows():
        lines.append(
            f"| {row['label']} | {num(row['reconstruction_error'], 4)} | {num(row['ap'], 3)} |"
        )
    return "\n".join(lines)


def _bold_best(column: pd.Series, low_is_best: bool) -> list[str]:
    best = column.min() if low_is_best else column.max()
    return [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in column]


def scores_summary(results: Path) -> str:
    """The scorer zoo's summary: one row per scorer, one Exp. 3.2 column per model (best in bold)."""
    table = read_csv(results, "scores_summary.csv", ["score", "blind_spot_area"])
    labels = {}
    if (Path(results) / "fig3a.csv").is_file():  # every model's label (fig4b has the drawn ones)
        fig3a = read_csv(results, "fig3a.csv", ["model", "label"]).drop_duplicates("model")
        labels = dict(zip(fig3a["model"], fig3a["label"], strict=True))
    columns = {
        "blind_spot_area": "blind-spot area ↓",
        "min_ap_sigma1": "worst AP, σ≈1",
        "min_ap_sigma2": "worst AP, σ≈2",
    }
    columns = {k: v for k, v in columns.items() if k in table}
    for column in table.columns:
        if column.startswith("exp3_ap_"):
            model = column.removeprefix("exp3_ap_")
            columns[column] = f"Exp. 3.2 {labels.get(model, model)}"
    cells = {c: _bold_best(table[c], low_is_best=c == "blind_spot_area") for c in columns}
    lines = ["| scorer | " + " | ".join(columns.values()) + " |", "|---" * (len(columns) + 1) + "|"]
    for i, score in enumerate(table["score"]):
        lines.append(f"| `{score}` | " + " | ".join(cells[c][i] for c in columns) + " |")
    return "\n".join(lines)


def scorer_profiles(results: Path) -> str:
    """Per scorer on the simulated reconstructions: worst AP without blur, the blind band at
    σ ≈ 1, 2 and 5, and the texture anomalies' AP range at σ ≈ 1."""
    exp1 = read_csv(results, "scores_exp1.csv", ["score", "intensity", "sigma", "ap"])
    sigmas = sorted({nearest(exp1["sigma"], t) for t in (1, 2, 5)})
    textures = None
    if (Path(results) / "scores_textures.csv").is_file():
        textures = read_csv(results, "scores_textures.csv", ["score", "anomaly", "sigma", "ap"])
    header = ["scorer", "worst AP, σ = 0", *(f"blind at σ = {s:.2f}" for s in sigmas)]
    if textures is not None:
        header.append(f"textures' AP at σ = {nearest(textures['sigma'], 1):.2f}")
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for score, rows in exp1.groupby("score", sort=False):
        cells = [f"`{score}`", num(rows.loc[rows["sigma"] == rows["sigma"].min(), "ap"].min())]
        cells += [blind_band(rows, s) for s in sigmas]
        if textures is not None:
            mine = textures[textures["score"] == score]
            at1 = mine[np.isclose(mine["sigma"], nearest(textures["sigma"], 1))]["ap"]
            cells.append(f"{num(at1.min())}–{num(at1.max())}" if len(at1) else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lesions(results: Path, lesion_set: str = "embedded") -> str:
    """Exp. 4: per model, the share of lesions the residual detects inside the healthy histogram's
    bulk (10th-90th percentile) and outside it, and the scorer with the best per-image AP."""
    bins = read_csv(
        results,
        f"lesions_{lesion_set}_by_intensity.csv",
        ["model", "score", "bin_left", "bin_right", "n_lesions", "n_detected"],
    )
    metrics = read_csv(
        results, f"lesions_{lesion_set}_metrics.csv", ["model", "score", "per_image_ap"]
    )
    lines = [
        "| model | residual: lesions detected in the bulk | outside the bulk | residual per-image AP "
        "| best scorer (per-image AP) |",
        "|---|---|---|---|---|",
    ]
    for model, rows in metrics.groupby("model", sort=False):
        residual = bins[(bins["model"] == model) & (bins["score"] == "residual")]
        bulk = (residual["bin_left"] >= 10) & (residual["bin_right"] <= 90)
        inside, outside = residual[bulk], residual[~bulk]
        best = rows.loc[rows["per_image_ap"].idxmax()]
        own = rows.loc[rows["score"] == "residual", "per_image_ap"]
        lines.append(
            f"| {model} | {inside['n_detected'].sum()} of {inside['n_lesions'].sum()} | "
            f"{outside['n_detected'].sum()} of {outside['n_lesions'].sum()} | "
            f"{num(own.iloc[0] if len(own) else float('nan'), 3)} | "
            f"`{best['score']}` ({best['per_image_ap']:.3f}) |"
        )
    return "\n".join(lines)


def modern(results: Path) -> str:
    """results/fig3_modern: each model's matched blur σ (Exp. 3.1) and mean Exp. 3.2 AP."""
    table = read_csv(
        results, "fig3_modern.csv", ["model", "label", "matched_sigma", "mean_ap_exp32"]
    )
    lines = ["| model | matched σ (Exp. 3.1) | mean AP, Exp. 3.2 |", "|---|---|---|"]
    for _, row in table.groupby("model", sort=False).first().iterrows():
        lines.append(
            f"| {row['label']} | {num(row['matched_sigma'])} | {num(row['mean_ap_exp32'], 3)} |"
        )
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Path], str]] = {
    "headline": headline,
    "modern": modern,
    "lesions": lesions,
    "matched-sigma": matched_sigma,
    "model-errors": model_errors,
    "scores-summary": scores_summary,
    "scorer-profiles": scorer_profiles,
}


def render_text(text: str, results: Path, source: str = "document") -> str:
    """`text` with the inside of every rendered block replaced from the CSVs in `results`."""

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in RENDERERS:
            raise RenderError(
                f"{source}: block 'rendered:{name}' names no renderer "
                f"(known: {', '.join(sorted(RENDERERS))})"
            )
        return match.group(1) + RENDERERS[name](Path(results)).rstrip("\n") + "\n" + match.group(4)

    return BLOCK.sub(replace, text)


def render_files(paths: Iterable[Path], results: Path, *, check: bool = False) -> list[Path]:
    """Render every block of each file; returns the files whose blocks were (check: would be)
    changed. With `check`, nothing is written."""
    changed = []
    for path in paths:
        text = Path(path).read_text()
        rendered = render_text(text, results, source=str(path))
        if rendered != text:
            changed.append(Path(path))
            if not check:
                Path(path).write_text(rendered)
    return changed
