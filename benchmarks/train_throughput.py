"""Training throughput of ``train_model`` against a bare reference loop, per model, in one run.

Usage: ``python benchmarks/train_throughput.py [--size 64] [--batch 16] [--steps 30]
[--repeats 2] [--device cpu|cuda] [--threads 1] [--bf16] [--models ae128 ... vqvae]``

For each model config.yaml + config/modern.yaml train (the paper's six: AE latent 128/64/32,
Spatial-AE 8x8x1/8x8x2, VQ-VAE-2; the denoising autoencoder ``dae`` and the diffusion model ``ddpm``,
whose losses draw their noise on the device from a seeded generator) at ``--size``:

* ``train_model`` (no validation, checkpoints only at the end, no progress bar) on random
  brain-free images in [0, 1];
* a bare loop: the same model and optimizer (``train._setup``: seeded weights, fused AdamW,
  channels_last on CUDA), the images already on the device, a random permutation cut into
  batches, forward, backward, step; no logging, no checks, no checkpoints.

Both are timed from the end of step 1 to the end of step ``--steps`` (step 1 warms up the
allocator and, on CUDA, cuDNN's autotuning), with a device synchronisation at both ends; each is
run ``--repeats`` times, alternating, and the fastest run counts. The clock is wall time on CUDA
and, by default, the process's CPU time on CPU (``--clock``): on a shared machine other jobs
stretch the wall time of a one-thread run by tens of percent at random, its CPU time hardly. Prints one line per model and, last,
``train throughput: <min ratio>x..<max ratio>x of the bare loop (<device>)``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from residual_pitfalls.cli import merged_config
from residual_pitfalls.models import sized_hparams
from residual_pitfalls.training.loop import TrainSettings, _setup, train_model

ROOT = Path(__file__).resolve().parents[1]
# The models config.yaml and the overlay config/modern.yaml train: {key: (arch, hparams)}.
MODELS = {
    key: (spec["arch"], spec["hparams"])
    for key, spec in merged_config(ROOT, [ROOT / "config" / "modern.yaml"])["models"].items()
    if "arch" in spec
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter  # set by main()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_train_model(
    arch: str, hparams: dict, images: np.ndarray, args: argparse.Namespace, device: torch.device
) -> float:
    """Images per second of ``train_model`` over steps 2..steps."""
    marks: dict[int, float] = {}

    def mark(step: int, loss: torch.Tensor) -> None:
        if step in (1, args.steps):
            _sync(device)
            marks[step] = clock()

    with tempfile.TemporaryDirectory(prefix="train_throughput.") as work:
        settings = TrainSettings(
            steps=args.steps, batch_size=args.batch, checkpoint_every=args.steps, val_every=0,
            device=str(device), bf16=args.bf16, progress=False,
        )  # fmt: skip
        train_model(
            arch, hparams, images, images[: args.batch], settings, workdir=Path(work),
            callback=mark,
        )  # fmt: skip
    return (args.steps - 1) * args.batch / (marks[args.steps] - marks[1])


def time_bare_loop(
    arch: str, hparams: dict, images: np.ndarray, args: argparse.Namespace, device: torch.device
) -> float:
    """Images per second of the bare reference loop over steps 2..steps."""
    model, optimizer = _setup(arch, hparams, 0, device, 1e-3, 0.02)
    model.train()
    data = torch.from_numpy(images).to(device)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0)).to(device)
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    per_epoch = len(data) // args.batch
    for step in range(1, args.steps + 1):
        k = (step - 1) % per_epoch
        x = data.index_select(0, perm[k * args.batch : (k + 1) * args.batch])[:, None]
        x = x.contiguous(memory_format=fmt)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            loss, _ = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == 1:
            _sync(device)
            start = clock()
    _sync(device)
    return (args.steps - 1) * args.batch / (clock() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="image size (default 64)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--steps", type=int, default=30, help="steps per timed run (default 30)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each loop (default 2)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA only)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument(
        "--clock", choices=list(CLOCKS), default=None, help="default: cpu on CPU, wall on CUDA"
    )
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be >= 2")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.bf16 = args.bf16 and device.type == "cuda"
    global clock
    clock_name = args.clock or ("wall" if device.type == "cuda" else "cpu")
    if device.type == "cuda" and clock_name == "cpu":
        parser.error("--clock cpu does not see the GPU's work")
    clock = CLOCKS[clock_name]
    torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as train_model does (not deterministic)
        name = f"{torch.cuda.get_device_name(device)}, {args.size}^2, batch {args.batch}"
        name += ", bf16" if args.bf16 else ", fp32"
    else:
        name = f"cpu, {args.threads} thread(s), {args.size}^2, batch {args.batch}"
    name += f", {clock_name} clock"

    # Two epochs' worth of images, so train_model draws a second permutation inside the timing.
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (args.batch * max(2, args.steps // 2), args.size, args.size))
    images = images.astype(np.float32)
    ratios = []
    for label in args.models:
        arch, hparams = MODELS[label]
        hparams = sized_hparams(arch, hparams, args.size)
        ours, bare = [], []
        for _ in range(args.repeats):
            bare.append(time_bare_loop(arch, hparams, images, args, device))
            ours.append(time_train_model(arch, hparams, images, args, device))
        ratio = max(ours) / max(bare)
        ratios.append(ratio)
        print(
            f"{label:6s} train_model {max(ours):9.1f} img/s ({args.batch / max(ours):.3f} s/step)"
            f"   bare loop {max(bare):9.1f} img/s"
            f"   ratio {ratio:.2f}x   (runs: {', '.join(f'{v:.1f}' for v in ours)} vs "
            f"{', '.join(f'{v:.1f}' for v in bare)})",
            flush=True,
        )
    print(f"train throughput: {min(ratios):.2f}x..{max(ratios):.2f}x of the bare loop ({name})")


if __name__ == "__main__":
    main()
