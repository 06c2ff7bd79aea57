"""Shared by the tests that run the real workflow in a subprocess."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TINY = REPO / "config" / "tiny.yaml"


def tiny_models() -> list[str]:
    """The model keys the tiny configuration trains (config.yaml's and the overlay's)."""
    from residual_pitfalls.cli import merged_config

    return list(merged_config(REPO, [TINY])["models"])


# The figures `all` builds on the default data (App. D's fig7/fig8 need labelled data).
FIGURES = (
    "fig1a",
    "fig1b",
    "fig2",
    "fig3a",
    "fig3b",
    "fig3_modern",
    "fig4a",
    "fig4b",
    "fig5",
    "fig6a",
    "fig6b",
    "fig3a_per_image_bn",
)


def readme_csv_columns() -> dict[str, list[str]]:
    """{figure: its CSV's columns} from the table "The CSV beside each figure" of docs/output.md."""
    text = (REPO / "docs" / "output.md").read_text()
    section = text.split("## The CSV beside each figure", 1)[1].split("\n#", 1)[0]
    columns = {}
    for names, listed in re.findall(
        r"^\| ((?:`fig\w+\.csv`(?:, )?)+) \| `([^`]+)` \|", section, re.M
    ):
        for name in re.findall(r"`(fig\w+)\.csv`", names):
            columns[name] = listed.split(",")
    return columns


def snakemake_command(workdir: Path, *args: str, python: str = sys.executable) -> list[str]:
    """`python -m snakemake` on the repo's Snakefile in `workdir`.

    Put targets before `--configfile`: it takes several values and would swallow them.
    """
    return [python, "-m", "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir), *args]


def run_snakemake(
    workdir: Path, *args: str, env: dict | None = None, timeout: int = 1800
) -> subprocess.CompletedProcess:
    """Run snakemake and return the finished process (stdout and stderr captured as text)."""
    return subprocess.run(
        snakemake_command(workdir, *args), capture_output=True, text=True, env=env, timeout=timeout
    )


def brain_slices(
    n: int, size: int, seed: int, levels: int | None = None, width: int | None = None
) -> np.ndarray:
    """The tests' phantom: (n, size, width) float32 brain-like slices, a smooth texture in
    (0.05, 1] inside a random ellipse, exactly 0 outside.

    ``levels``: quantise the brain to that many grey levels (exact ties between pixels, and
    between pixels and the grid's intensities). ``width``: None = ``size`` (square slices)."""
    width = size if width is None else width
    rng = np.random.default_rng([seed, size, n])
    rows, cols = np.mgrid[:size, :width]
    yy, xx = rows / (size - 1) * 2 - 1, cols / (width - 1) * 2 - 1
    out = np.zeros((n, size, width), np.float32)
    for i in range(n):
        a, b = rng.uniform(0.75, 0.9, 2)
        inside = (yy / a) ** 2 + (xx / b) ** 2 < 1
        tex = gaussian_filter(rng.random((size, width)), 2.0)
        tex = (tex - tex.min()) / (tex.max() - tex.min())
        img = np.clip(0.15 + 0.8 * tex, 0.05, 1.0)
        if levels:
            img = np.round(img * levels) / levels
        out[i][inside] = img[inside]
    return out


def synthetic_tissue_probabilities(subject, *, seed, size, slab=None):
    """The tissue maps behind ``synthetic_volume`` (same subject, same geometry), for tests only.

    Returns (3, size, size, size) float32 in [0, 1]: CSF, GM, WM; they sum to the partial-volume
    brain mask, and all three are 0 wherever the volume is background or outside the slab.
    """
    import numpy as np

    from residual_pitfalls.data import synthetic

    lo, hi = synthetic._check_arguments(subject, seed, size, slab, None)
    tpl = synthetic._template(synthetic._FOV_MM / size)
    subj = synthetic._draw_subject(int(seed), int(subject))
    geo = synthetic._geometry(subj, tpl, size)
    out = np.zeros((3, size, size, size), dtype=np.float32)
    for k in range(lo, hi):
        _, csf, gm, wm = synthetic._tissue_slice(subj, tpl, geo, k)
        out[:, :, :, k] = np.stack([csf, gm, wm])
    return out
