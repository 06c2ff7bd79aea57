"""Regenerate docs/synthetic_slices.png: the centre axial slice of the first synthetic subjects.

    python docs/make_synthetic_slices.py [--subjects 4] [--size 128] [--out docs/synthetic_slices.png]

The slices are exactly what the default config feeds the experiments (seed 0, `image_size` 128,
slice 64 of axis 2, background exactly 0). Images, not a statistical plot: plain matplotlib.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from residual_pitfalls.data.synthetic import synthetic_volume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("synthetic_slices.png")
    )
    args = parser.parse_args()

    centre = args.size // 2
    fig, axes = plt.subplots(1, args.subjects, figsize=(2.5 * args.subjects, 2.8), squeeze=False)
    for subject, ax in enumerate(axes[0]):
        volume, _ = synthetic_volume(
            subject, seed=args.seed, size=args.size, slab=(centre, centre + 1)
        )
        # axis 0 runs left -> right and axis 1 posterior -> anterior (RAS): show anterior up
        ax.imshow(volume[:, :, centre].T, cmap="gray", vmin=0, vmax=1, origin="lower")
        ax.set_title(f"subject {subject}", fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
