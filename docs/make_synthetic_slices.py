"""Regenerate docs/synthetic_slices.png: the centre axial slice of the first synthetic subjects.

    python docs/make_synthetic_slices.py [--subjects 6] [--size 256] [--brainweb MODEL.rawb.gz]

The slices are exactly what the paper_synthetic preset feeds the experiments (seed 0, 256^2, slice
128 of axis 2, background exactly 0; `--size 128` gives the default config's). With `--brainweb`, a
downloaded BrainWeb model (data/brainweb/subjectNN_crisp.rawb.gz) rendered as T2 is drawn last.
Images, not a statistical plot: plain matplotlib.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from residual_pitfalls.data.synthetic import synthetic_volume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--brainweb", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("synthetic_slices.png")
    )
    args = parser.parse_args()

    centre = args.size // 2
    panels = []
    for subject in range(args.subjects):
        volume, _ = synthetic_volume(
            subject, seed=args.seed, size=args.size, slab=(centre, centre + 1)
        )
        panels.append((f"synthetic subject {subject}", volume[:, :, centre]))
    if args.brainweb is not None:
        from residual_pitfalls.data.brainweb import read_model, t2_volume

        volume = t2_volume(read_model(args.brainweb), seed=args.seed, subject=0, size=args.size)
        panels.append((f"BrainWeb {args.brainweb.name[:9]}", volume[:, :, centre]))
    n = len(panels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (title, image) in zip(axes.ravel(), panels, strict=False):
        # axis 0 runs left -> right and axis 1 posterior -> anterior (RAS): show anterior up
        ax.imshow(image.T, cmap="gray", vmin=0, vmax=1, origin="lower", interpolation="none")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
