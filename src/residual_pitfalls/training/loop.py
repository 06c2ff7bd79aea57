"""Training loop for the reconstruction models: seeded, resumable, NaN-safe.

Files in ``workdir`` (all written atomically):

* ``last.pt``: model + optimizer + step + best metrics so far + the run's fingerprint (content
  hashes of the training and validation arrays and every setting that shapes the weights), every
  ``checkpoint_every`` steps and at the end; a new call with the same workdir resumes from it if
  the fingerprint matches (``steps`` may grow), else moves the old run to ``stale/`` and starts
  over;
* ``best_val_loss.pt`` / ``best_val_ap.pt``: weights at the best validation loss / pixel-AP so far;
* ``loss.csv``: one row per step ``step,train_loss,val_loss,val_ap`` (validation columns empty
  where not computed);
* ``model.pt``: the selected final model ``{"arch","hparams","state_dict","step","selection"}``.

Determinism: the weights are initialised under a forked torch RNG seeded with ``seed`` and the
batches of epoch ``e`` are a permutation drawn from ``np.random.default_rng([seed, e])``, so the
same seed on the same CPU (same thread count) gives bit-identical weights, with or without a
resume in between; on CUDA only with ``deterministic=True`` (by default cuDNN autotunes).

Speed: the loop is written so that the device never waits for the host: the images live on the
device, batches are gathered there, and the losses are read back every ``log_every`` steps
(``benchmarks/train_throughput.py`` compares it with a bare loop).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from residual_pitfalls.models import (
    build_model,
    default_device,
)
from residual_pitfalls.training.loss_log import _write_log
from residual_pitfalls.training.resume import (
    _finalize,
    _log_losses,
    _Run,
    _save_improved_best,
    _save_last,
    _start_or_resume,
    data_fingerprint,
)
from residual_pitfalls.training.settings import (
    SELECTIONS,
    TrainSettings,
    _check_args,
    _checked_images,
)
from residual_pitfalls.training.validation import (
    _wants_val_ap,
    run_validation,
    val_radius_px,
    validation_anomalies,
)

# --------------------------------------------------------------------------------------------
# small helpers


@contextlib.contextmanager
def _torch_settings(
    device: torch.device, threads: int | None, deterministic: bool
) -> Iterator[None]:
    """Thread count and the CUDA kernel choice for the duration of training, restored afterwards.

    On CUDA cuDNN autotunes its kernels (fast, not bit-reproducible) unless ``deterministic``,
    which also turns on :func:`torch.use_deterministic_algorithms` (cuBLAS then needs
    ``CUBLAS_WORKSPACE_CONFIG``, set here if unset). CPU runs are deterministic either way.
    """
    old_threads = torch.get_num_threads()
    old_det, old_bench = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    old_algos = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)
        if device.type == "cuda":
            torch.backends.cudnn.deterministic = deterministic
            torch.backends.cudnn.benchmark = not deterministic
            if deterministic:
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.use_deterministic_algorithms(True)
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_det, old_bench
        torch.use_deterministic_algorithms(old_algos[0], warn_only=old_algos[1])


def _seeded_model(arch: str, hparams: dict, seed: int) -> nn.Module:
    # fork_rng leaves the caller's global torch RNG untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, **hparams)


def _loss_options(model: nn.Module, commitment_weight: float) -> dict[str, float]:
    params = inspect.signature(model.loss).parameters
    return {"commitment_weight": commitment_weight} if "commitment_weight" in params else {}


class _Batches:
    """The batch of each 1-based step, ``(B, 1, H, W)`` float32 on ``device``.

    Epoch ``e`` is the permutation ``np.random.default_rng([seed, e]).permutation(N)`` cut into
    batches, the last partial one kept (as the original DataLoader). The images live on the
    device when they fit (a gather there per step, no host work); otherwise each batch is
    gathered on the host into pinned memory and copied without blocking.
    """

    def __init__(
        self, images: np.ndarray, batch_size: int, seed: int, device: torch.device
    ) -> None:
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.per_epoch = math.ceil(len(images) / batch_size)
        host = torch.from_numpy(images)  # no copy
        self.on_device = device.type == "cpu" or (
            device.type == "cuda" and images.nbytes < 0.5 * torch.cuda.mem_get_info(device)[0]
        )
        self.images = host.to(device) if self.on_device else host
        self.channels_last = device.type == "cuda"
        self.epoch: int | None = None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step - 1, self.per_epoch)
        if epoch != self.epoch:  # one small copy per epoch
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.images))
            self.perm, self.epoch = torch.from_numpy(perm).to(self.images.device), epoch
        idx = self.perm[k * self.batch_size : (k + 1) * self.batch_size]
        if self.on_device:  # (not a device comparison: "cuda" != "cuda:0")
            x = self.images.index_select(0, idx)
        else:
            pinned = torch.empty((len(idx), *self.images.shape[1:]), pin_memory=True)
            x = torch.index_select(self.images, 0, idx, out=pinned).to(
                self.device, non_blocking=True
            )
        x = x[:, None]
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


# --------------------------------------------------------------------------------------------
# training


def train_model(
    arch: str,
    hparams: dict,
    train_images: np.ndarray,
    val_images: np.ndarray,
    settings: TrainSettings,
    *,
    workdir: Path,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> Path:
    """Train and return the path of the selected final checkpoint (workdir/'model.pt').

    Args:
        arch, hparams: model name in ``MODELS`` and its constructor arguments (plain types).
        train_images, val_images: ``(N, H, W)`` float32 in [0, 1] slices (background 0).
        settings: see :class:`TrainSettings`.
        workdir: directory for checkpoints and logs; resumes from ``workdir/last.pt`` when it
            is the same run (same data content and every setting that shapes the weights, i.e.
            all but ``steps``, ``checkpoint_every``, ``log_every``, ``threads``, ``progress``),
            else moves it to ``workdir/stale/`` and starts from step 0.
        callback: called as ``callback(step, loss)`` after every step, ``loss`` a 0-dim tensor
            on the device (reading it waits for the device); for hooks and tests.

    Raises:
        ValueError: bad arguments.
        TrainingDivergedError: non-finite loss or weights (names the step); the last good
            checkpoint is kept.
    """
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    s = settings
    _check_args(s.selection, s.steps, s.batch_size, s.checkpoint_every, s.val_every, s.log_every)
    train_images, val_images = _checked_images(train_images, val_images, s.val_every)
    compute_ap = _wants_val_ap(s.compute_val_ap, s.selection, s.val_every)
    workdir = _prepare_workdir(Path(workdir))
    dev = default_device(s.device)
    use_bf16 = _bf16_enabled(s.bf16, dev)
    deterministic = bool(s.deterministic) and dev.type == "cuda"  # CPU runs are anyway
    fingerprint = _fingerprint(
        arch, hparams, train_images, val_images, s, compute_ap, use_bf16, deterministic
    )
    with _torch_settings(dev, s.threads, deterministic):
        job = _start(arch, hparams, workdir, s, fingerprint, train_images, dev)
        anomalies = None
        if compute_ap:
            anomalies = validation_anomalies(val_images, int(s.seed), s.val_radius)[1:]
        _train_steps(job, val_images, anomalies, use_bf16, callback)
    _write_log(workdir / "loss.csv", job.run.rows)  # also when nothing was left to train
    return _finalize(workdir, s.selection, job.model, fingerprint, s.steps)


def _fingerprint(
    arch: str,
    hparams: dict,
    train_images: np.ndarray,
    val_images: np.ndarray,
    s: TrainSettings,
    compute_ap: bool,
    use_bf16: bool,
    deterministic: bool,
) -> dict:
    """Everything that shapes the weights (not `steps`: raising it continues the same run)."""
    return {
        "arch": arch,
        "hparams": dict(hparams),
        "train_images": data_fingerprint(train_images),
        "val_images": data_fingerprint(val_images),
        "seed": int(s.seed),
        "batch_size": s.batch_size,
        "lr": float(s.lr),
        "weight_decay": float(s.weight_decay),
        "commitment_weight": float(s.commitment_weight),
        # They decide which steps compete for best_val_*: a resume must not change them.
        "val_every": s.val_every,
        "val_ap": compute_ap,
        "val_radius": val_radius_px(train_images.shape[2], s.val_radius) if compute_ap else None,
        "selection": s.selection,
        "bf16": use_bf16,
        "deterministic": deterministic,
        "compile": bool(s.compile),
    }


@dataclasses.dataclass
class _Job:
    """What the steps of one training share: settings, model, optimizer, progress, batches."""

    arch: str
    workdir: Path
    settings: TrainSettings
    fingerprint: dict
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    run: _Run
    loss_fn: Callable
    loss_options: dict[str, float]
    batches: _Batches


def _start(
    arch: str,
    hparams: dict,
    workdir: Path,
    s: TrainSettings,
    fingerprint: dict,
    train_images: np.ndarray,
    dev: torch.device,
) -> _Job:
    """The seeded (or resumed) model and optimizer, the loss and the batches of the run."""
    model, optimizer = _setup(arch, hparams, s.seed, dev, s.lr, s.weight_decay)
    run = _start_or_resume(workdir, fingerprint, s.steps, model, optimizer)
    return _Job(
        arch=arch, workdir=workdir, settings=s, fingerprint=fingerprint, device=dev,
        model=model, optimizer=optimizer, run=run,
        loss_fn=torch.compile(model.loss) if s.compile else model.loss,
        loss_options=_loss_options(model, s.commitment_weight),
        batches=_Batches(train_images, s.batch_size, int(s.seed), dev),
    )  # fmt: skip


def _train_steps(
    job: _Job,
    val_images: np.ndarray,
    anomalies: np.ndarray | None,
    use_bf16: bool,
    callback: Callable[[int, torch.Tensor], None] | None,
) -> None:
    """Steps ``run.step + 1 .. steps``: one optimisation step each, then log/validate/save
    when due."""
    s, dev, run = job.settings, job.device, job.run
    job.model.train()
    losses: list[torch.Tensor] = []  # losses of the steps since the last read, on the device
    bar = tqdm(
        total=s.steps, initial=run.step, file=sys.stderr, disable=not s.progress,
        desc=f"train {job.arch}",
    )  # fmt: skip
    try:
        for step in range(run.step + 1, s.steps + 1):
            x = job.batches(step)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, _ = job.loss_fn(x, **job.loss_options)
            job.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            job.optimizer.step()
            run.step = step
            losses.append(loss.detach())
            bar.update(1)
            if callback is not None:
                callback(step, losses[-1])
            _log_validate_save(job, step, losses, bar, val_images, anomalies)
    finally:
        bar.close()


def _log_validate_save(
    job: _Job,
    step: int,
    losses: list[torch.Tensor],
    bar: tqdm,
    val_images: np.ndarray,
    anomalies: np.ndarray | None,
) -> None:
    """After ``step``: read the losses, validate and write checkpoints where due."""
    s, run = job.settings, job.run
    validate = bool(s.val_every) and (step % s.val_every == 0 or step == s.steps)
    save = step % s.checkpoint_every == 0 or step == s.steps
    if not (validate or save or step % s.log_every == 0):
        return
    _log_losses(job.workdir, run, losses)  # the one host sync; raises on non-finite
    bar.set_postfix(loss=f"{run.rows[-1][1]:.4f}")
    if validate:
        val_loss, ap = run_validation(
            job.model, val_images, anomalies, batch_size=s.batch_size, device=job.device,
            loss_options=job.loss_options,
        )  # fmt: skip
        run.rows[-1] = (step, run.rows[-1][1], val_loss, ap)
        _save_improved_best(job.workdir, job.model, run, job.fingerprint, val_loss, ap)
    if save:
        _save_last(job.workdir, job.model, job.optimizer, run, job.fingerprint)


# --------------------------------------------------------------------------------------------
# setup, resume and checkpoints


def _prepare_workdir(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob(".*.tmp"):  # leftovers of a write interrupted by a kill
        stale.unlink(missing_ok=True)
    return workdir


def _bf16_enabled(bf16: bool, device: torch.device) -> bool:
    if bf16 and device.type != "cuda":
        import warnings

        warnings.warn("bf16 autocast is CUDA-only; training in float32 on CPU", stacklevel=3)
    return bool(bf16) and device.type == "cuda"


def _setup(
    arch: str, hparams: dict, seed: int, device: torch.device, lr: float, weight_decay: float
) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The seeded model on ``device`` (channels_last on CUDA) and its AdamW optimizer."""
    model = _seeded_model(arch, hparams, seed)
    if device.type == "cuda":  # NHWC convolutions use the tensor cores; same numbers per kernel
        model = model.to(device, memory_format=torch.channels_last)
    else:
        model = model.to(device)
    # Fused AdamW: one kernel for all parameters (CUDA and CPU); equal to the foreach version
    # up to float rounding (measured 1.2e-7 after one step).
    fused = device.type in ("cuda", "cpu")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=lr, weight_decay=weight_decay, fused=fused, foreach=not fused
    )
    return model, optimizer


__all__ = ["SELECTIONS", "TrainSettings", "train_model"]
