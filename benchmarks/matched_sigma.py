"""Fig. 3(a)'s matched blur after a shortened training, on one machine, without Snakemake.

How far does a given number of steps take each model towards the paper's matched sigma (VQ-VAE-2
0.61, AE latent 128 at the grid edge 5.0)? This runs what the workflow's rules run for Fig. 3(a),
with the values of config.yaml plus ``--configfile`` overlays (default: the paper_synthetic preset),
except for ``--subjects`` and the training length:

* the embedded synthetic brains, split as the workflow splits them (``split_volumes`` on the same
  file names); the slices come straight from the renderer (the workflow's NIfTI round trip is
  lossless for these float32 volumes, so the stacks are the same);
* Exp 1's intensity x sigma grid on the test slices (``intensity_sigma_grid``);
* per model, ``train_model`` up to each of ``--steps`` (a raised ``steps`` resumes the same run, so
  the milestones are one training, as a longer run of the workflow would be), then Exp 3.1 (healthy
  reconstructions, ``model_intensity_curves``) and the matched sigma (``model_curve_table``), with
  BatchNorm in eval mode and, for models that have BatchNorm, per image as the original;
* the wall time of each stage and the training images per second.

    python benchmarks/matched_sigma.py --device cuda --subjects 400 --steps 1000 2000 3000
    python benchmarks/matched_sigma.py --configfile config/tiny.yaml --subjects 24 --steps 20 40

Writes ``matched_sigma.csv`` (model, label, steps, batchnorm, train_s, images_per_s, matched_sigma,
censored) into ``--out`` and prints, last, ``matched sigma (<device>, <N> training slices): <label>
<sigma>@<steps> ...``. 400 subjects give 4,560 training slices of 256^2 (the size of the run in
issue 10's table); the preset's 800 give 9,120.
"""

from __future__ import annotations

import argparse
import functools
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from residual_pitfalls import layout
from residual_pitfalls.anomalies import anomaly_centres
from residual_pitfalls.cli import merged_config
from residual_pitfalls.data.slices import extract_slices
from residual_pitfalls.data.synthetic import synthetic_volume
from residual_pitfalls.experiments.paper import (
    intensity_sigma_grid,
    linspace,
    model_intensity_curves,
)
from residual_pitfalls.models import has_batchnorm, load_model, reconstruct, sized_hparams
from residual_pitfalls.reporting.summaries import model_curve_table
from residual_pitfalls.training.loop import TrainSettings, train_model

ROOT = Path(__file__).resolve().parents[1]


def _render(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(training-range slices, test slices) of one synthetic subject."""
    subject, seed, size, slab, target_mean, train_idx, test_idx, axis = job
    volume, _ = synthetic_volume(subject, seed=seed, size=size, slab=slab, target_mean=target_mean)
    return extract_slices(volume, train_idx, axis), extract_slices(volume, test_idx, axis)


def slice_stacks(config: dict, subjects: int, workers: int) -> dict[str, np.ndarray]:
    """{'train', 'val', 'test'}: the stacks the workflow's `slices` rule builds."""
    entry = config["datasets"][config["dataset"]]
    if entry["source"] != "synthetic":
        raise SystemExit(f"dataset {config['dataset']!r} is not synthetic: use the workflow")
    slices = config["slices"]
    train_idx = list(range(*slices["train"]))
    test_idx = list(slices["test"])
    slab = (min(train_idx[0], *test_idx), max(train_idx[-1] + 1, *(i + 1 for i in test_idx)))
    names = [Path(f) for f in layout.synthetic_volumes(subjects)]
    parts = layout.split_of(config, names)  # the workflow's file names and split
    jobs = [
        (i, entry.get("seed", 0), config["image_size"], slab, entry.get("target_mean"),
         train_idx, test_idx, slices["axis"])
        for i in range(subjects)
    ]  # fmt: skip
    if workers <= 1:
        rendered = [_render(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rendered = list(pool.map(_render, jobs, chunksize=4))
    index = {path: i for i, path in enumerate(names)}
    return {
        part: np.concatenate([rendered[index[p]][part == "test"] for p in paths])
        for part, paths in parts.items()
    }


def matched(frame: pd.DataFrame, grid: pd.DataFrame) -> tuple[float, bool]:
    curves, _ = model_curve_table([frame], {}, grid, [], n_resamples=0)
    return float(curves["matched_sigma"].iloc[0]), bool(curves["censored"].iloc[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", nargs="+", type=Path,
                        default=[ROOT / "config" / "paper_synthetic.yaml"])  # fmt: skip
    parser.add_argument("--subjects", type=int, default=400)
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 2000, 3000])
    parser.add_argument("--models", nargs="+", default=["vqvae", "ae128"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("matched_sigma"))
    args = parser.parse_args()
    config = merged_config(ROOT, args.configfile)
    trainable = sorted(k for k, spec in config["models"].items() if "arch" in spec)
    unknown = [key for key in args.models if key not in trainable]
    if unknown:
        parser.error(f"--models {' '.join(unknown)}: not a model the config trains {trainable}")
    training = {k: v for k, v in config["training"].items() if k != "steps"}
    evaluation = config["evaluation"]
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    stacks = slice_stacks(config, args.subjects, args.workers)
    shapes = ", ".join(f"{k} {v.shape}" for k, v in stacks.items())
    print(f"data: {shapes} in {time.perf_counter() - start:.1f} s", flush=True)

    start = time.perf_counter()
    test = stacks["test"]
    centres = anomaly_centres(test, seed=config["seed"])
    radius = config["anomaly"]["radius"]
    intensities = linspace(config["grid"]["intensity"])
    grid = intensity_sigma_grid(
        test, centres, radius=radius, intensities=intensities,
        sigmas=linspace(config["grid"]["sigma"]), workers=args.workers,
    )  # fmt: skip
    print(f"exp 1 grid: {len(grid)} APs in {time.perf_counter() - start:.1f} s", flush=True)

    rows = []
    for key in args.models:
        spec = config["models"][key]
        label = spec.get("label", key)
        hparams = sized_hparams(spec["arch"], spec.get("hparams", {}), config["image_size"])
        done = 0
        for steps in sorted(args.steps):
            start = time.perf_counter()
            settings = TrainSettings(
                **training, steps=steps, seed=config["seed"], device=args.device,
                progress=False,
            )  # fmt: skip
            final = train_model(
                spec["arch"], hparams, stacks["train"], stacks["val"], settings,
                workdir=args.out / key,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            model = load_model(final)
            modes = ["eval", "per_image"] if has_batchnorm(model) else ["eval"]
            for batchnorm in modes:
                frame, _ = model_intensity_curves(
                    test, centres, mode="healthy", radius=radius, intensities=intensities,
                    reconstruct=functools.partial(
                        reconstruct, model, batch_size=evaluation["batch_size"],
                        device=args.device, batchnorm=batchnorm,
                    ),
                )  # fmt: skip
                sigma, censored = matched(frame.assign(model=key), grid)
                rows.append({
                    "model": key, "label": label, "steps": steps, "batchnorm": batchnorm,
                    "train_s": round(seconds, 1),
                    "images_per_s": round((steps - done) * training["batch_size"] / seconds, 1),
                    "matched_sigma": sigma, "censored": censored,
                })  # fmt: skip
                print(
                    f"{label} @ {steps} steps ({batchnorm} BatchNorm): matched sigma {sigma:.2f}"
                    f"{' (grid edge)' if censored else ''}; training {seconds:.1f} s, "
                    f"{rows[-1]['images_per_s']:.0f} img/s",
                    flush=True,
                )
                pd.DataFrame(rows).to_csv(args.out / "matched_sigma.csv", index=False)
            done = steps
    table = pd.DataFrame(rows)
    final = table[table["batchnorm"] == "eval"]
    summary = ", ".join(f"{r.label} {r.matched_sigma:.2f}@{r.steps}" for r in final.itertuples())
    print(f"matched sigma ({args.device}, {len(stacks['train'])} training slices): {summary}")


if __name__ == "__main__":
    main()
