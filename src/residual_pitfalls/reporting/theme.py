"""The one look of every figure, and how a figure is written.

``figure_theme`` (seaborn's "ticks" style, "paper" context, the colour-blind palette) is entered by
every figure function through the ``themed`` decorator; ``save_figure`` writes a figure as PDF + PNG
beside the CSV of exactly the numbers it plots.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from cycler import cycler  # noqa: E402

# One palette for every figure, distinguishable with colour-vision deficiency.
PALETTE = "colorblind"


@contextmanager
def figure_theme(font_size: float = 10) -> Iterator[None]:
    """The one look of the figure set: seaborn's "ticks" style, its "paper" context scaled so the base
    font is `font_size` points, and the colour-blind palette. Create figures inside the block:

        with figure_theme(style["font_size"]):
            fig, ax = plt.subplots()
    """
    context = sns.plotting_context("paper")
    context = sns.plotting_context("paper", font_scale=float(font_size) / context["font.size"])
    rc = {
        **sns.axes_style("ticks"),
        **context,
        "axes.prop_cycle": cycler(color=sns.color_palette(PALETTE)),
        "figure.dpi": 100,
    }
    with plt.rc_context(rc):
        yield


def themed(plot: Callable[..., plt.Figure]) -> Callable[..., plt.Figure]:
    """Run a figure function inside `figure_theme(style["font_size"])` (`style`: its argument)."""
    signature = inspect.signature(plot)

    @functools.wraps(plot)
    def wrapper(*args, **kwargs) -> plt.Figure:
        style = signature.bind(*args, **kwargs).arguments["style"]
        with figure_theme(style.get("font_size", 10)):
            return plot(*args, **kwargs)

    return wrapper


def save_figure(fig: plt.Figure, table: pd.DataFrame, pdf_path: str | Path, dpi: int = 150) -> None:
    """Write `fig` to <name>.pdf and <name>.png and `table` to <name>.csv (same stem)."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pdf_path, bbox_inches="tight")
    fig.savefig(pdf_path.with_suffix(".png"), dpi=dpi, bbox_inches="tight")
    table.to_csv(pdf_path.with_suffix(".csv"), index=False)
    plt.close(fig)
