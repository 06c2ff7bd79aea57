"""The loss curve of one training run (``loss.csv`` of :func:`residual_pitfalls.train.train_model`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from residual_pitfalls.train import read_loss_log

__all__ = ["plot_loss_curve"]


def plot_loss_curve(csv_path: str | Path, png_path: str | Path) -> None:
    """Plot ``loss.csv`` (training loss per step, validation loss and pixel-AP) to a PNG."""
    # A bare Figure (no pyplot) leaves the global backend and figure registry alone.
    from matplotlib.figure import Figure

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"loss log not found: {csv_path}")
    rows = read_loss_log(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no rows to plot")
    step = np.array([r[0] for r in rows])
    train = np.array([np.nan if r[1] is None else r[1] for r in rows])
    val = np.array([np.nan if r[2] is None else r[2] for r in rows])
    ap = np.array([np.nan if r[3] is None else r[3] for r in rows])

    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(step, train, lw=0.5, alpha=0.4, color="C0", label="train loss")
    window = max(1, len(step) // 50)
    if window > 1:
        smooth = np.convolve(train, np.ones(window) / window, mode="valid")
        ax.plot(step[window - 1 :], smooth, color="C0", label=f"train (mean of {window})")
    has_val = np.isfinite(val)
    if has_val.any():
        ax.plot(step[has_val], val[has_val], "o-", ms=3, color="C1", label="val loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if np.nanmin(train) > 0:
        ax.set_yscale("log")
    handles, labels = ax.get_legend_handles_labels()
    has_ap = np.isfinite(ap)
    if has_ap.any():
        ax2 = ax.twinx()
        ax2.plot(step[has_ap], ap[has_ap], "s--", ms=3, color="C2", label="val pixel-AP")
        ax2.set_ylabel("val pixel-AP")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    # Above the axes: inside, it hid the curves' ends (where the loss and the AP meet).
    fig.legend(handles, labels, fontsize="small", loc="outside upper center", ncols=len(labels))
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=120)
