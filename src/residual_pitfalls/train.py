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
import csv
import dataclasses
import hashlib
import inspect
import io
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from residual_pitfalls.models import (
    CheckpointError,
    build_model,
    default_device,
    read_checkpoint,
    save_checkpoint,
)

__all__ = [
    "SELECTIONS",
    "TrainingDivergedError",
    "data_fingerprint",
    "read_loss_log",
    "train_model",
    "val_radius_px",
    "validation_anomalies",
]

SELECTIONS = ("last", "best_val_loss", "best_val_ap")
LOG_COLUMNS = ("step", "train_loss", "val_loss", "val_ap")
# The paper's validation anomalies: radius 20 px at 256 x 256, scaled with the image size.
VAL_RADIUS_AT_256 = 20.0
# Tag that separates the validation-anomaly RNG streams from the batch-shuffling streams.
_VAL_ANOMALY_STREAM = 0x5A1


class TrainingDivergedError(RuntimeError):
    """The training loss or the weights became NaN/inf."""


# --------------------------------------------------------------------------------------------
# inputs


def _check_images(images: object, name: str) -> np.ndarray:
    if not isinstance(images, np.ndarray) or images.ndim != 3:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"{name} must be a (N, H, W) numpy array, got {shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"{name} must be float (float32 in [0, 1]), got dtype {images.dtype}")
    images = np.ascontiguousarray(images, dtype=np.float32)
    # In chunks: a full-size boolean temporary of the 256^2 training stack would be ~0.6 GB.
    for start in range(0, len(images), 256):
        chunk = images[start : start + 256]
        if not (np.isfinite(chunk).all() and chunk.min() >= 0 and chunk.max() <= 1):
            raise ValueError(f"{name} must be finite and in [0, 1] (check images {start}..)")
    return images


def _check_args(
    selection: str,
    steps: int,
    batch_size: int,
    checkpoint_every: int,
    val_every: int,
    log_every: int,
) -> None:
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; valid: {list(SELECTIONS)}")
    for name, value, low in (
        ("steps", steps, 1),
        ("batch_size", batch_size, 1),
        ("checkpoint_every", checkpoint_every, 1),
        ("val_every", val_every, 0),
        ("log_every", log_every, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if selection != "last" and val_every == 0:
        raise ValueError(f"selection {selection!r} needs validation, but val_every=0")


def val_radius_px(width: int, radius: float | None) -> float:
    """The validation disk radius in pixels: ``radius``, or ``20 * width / 256`` if None."""
    if radius is None:
        return VAL_RADIUS_AT_256 * width / 256.0
    if not 0 < radius < width / 2:
        raise ValueError(
            f"val_radius must be in (0, {width / 2}) px for {width}-px wide images, got {radius!r}"
        )
    return float(radius)


def data_fingerprint(images: np.ndarray) -> str:
    """Content hash (hex) of a C-contiguous array: dtype, shape and bytes (~1 GB/s)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{images.dtype.str}{images.shape}".encode())
    digest.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return digest.hexdigest()


def validation_anomalies(
    images: np.ndarray, seed: int, radius: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disk anomalies of random intensity U(0, 1) for validation pixel-AP (SPEC 5.4).

    Image ``i`` draws its intensity then its centre from
    ``np.random.default_rng([seed, 0x5A1, i])``. Images without foreground are dropped.

    Args:
        images: ``(N, H, W)`` float32 in [0, 1], healthy validation slices.
        seed: int >= 0.
        radius: disk radius in pixels, in (0, W/2); None = the paper's 20 px at 256, scaled
            with the width (``20 * W / 256``: 10 at 128).

    Returns:
        ``(kept (M,) int64 indices, anomalous (M, H, W) float32 in [0, 1], labels (M, H, W)
        bool)``.
    """
    from residual_pitfalls.anomalies import disk_anomaly, sample_centre

    radius = val_radius_px(images.shape[2], radius)
    kept, anomalous, labels = [], [], []
    for i, image in enumerate(images):
        if not (image > 0).any():
            continue
        rng = np.random.default_rng([seed, _VAL_ANOMALY_STREAM, i])
        intensity = float(rng.uniform(0.0, 1.0))
        centre = sample_centre(image, rng)
        img_anom, label = disk_anomaly(image, centre, radius, intensity)
        kept.append(i)
        anomalous.append(img_anom)
        labels.append(label)
    if not kept:
        raise ValueError("no validation image has a foreground pixel (image > 0) for anomalies")
    return np.asarray(kept, dtype=np.int64), np.stack(anomalous), np.stack(labels)


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


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    # contiguous: a channels_last CUDA run stores the same checkpoint layout as a CPU run
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def _all_finite(model: nn.Module) -> bool:
    return all(
        torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()
    )


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


def _fmt(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _write_log(path: Path, rows: list[tuple]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LOG_COLUMNS)
    for step, train_loss, val_loss, val_ap in rows:
        writer.writerow([step, _fmt(train_loss), _fmt(val_loss), _fmt(val_ap)])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_loss_log(path: Path) -> list[tuple]:
    """Rows ``(step, train_loss, val_loss, val_ap)`` of a loss log (None where empty)."""

    def num(text: str) -> float | None:
        return float(text) if text else None

    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != LOG_COLUMNS:
            raise ValueError(f"{path}: expected columns {list(LOG_COLUMNS)}")
        rows = [
            (int(r["step"]), num(r["train_loss"]), num(r["val_loss"]), num(r["val_ap"]))
            for r in reader
        ]
    return rows


# --------------------------------------------------------------------------------------------
# validation


def _validate(
    model: nn.Module,
    images: np.ndarray,
    anomalies: tuple[np.ndarray, np.ndarray] | None,
    *,
    batch_size: int,
    device: torch.device,
    loss_options: dict,
) -> tuple[float, float | None]:
    """Mean validation loss and, if ``anomalies`` is given, mean per-image pixel-AP (in float32,
    also when training runs under bf16 autocast)."""
    from residual_pitfalls.metrics.ap import average_precision_batch

    model.eval()
    total = 0.0
    aps: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            # torch.tensor copies: a model that writes into its input cannot change the images
            x = torch.tensor(images[start : start + batch_size], device=device)[:, None]
            loss, _ = model.loss(x, **loss_options)
            total += float(loss) * len(x)
        if anomalies is not None:
            anomalous, labels = anomalies
            for start in range(0, len(anomalous), batch_size):
                x_np = anomalous[start : start + batch_size]
                rec = model(torch.tensor(x_np, device=device)[:, None])
                rec = rec[0] if isinstance(rec, tuple) else rec
                residual = np.abs(rec[:, 0].float().cpu().numpy() - x_np)
                aps.append(average_precision_batch(labels[start : start + batch_size], residual))
    model.train()
    val_ap = float(np.mean(np.concatenate(aps))) if aps else None
    return total / len(images), val_ap


# --------------------------------------------------------------------------------------------
# training


def train_model(
    arch: str,
    hparams: dict,
    train_images: np.ndarray,
    val_images: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    lr: float = 1e-3,
    weight_decay: float = 0.02,
    commitment_weight: float = 0.25,
    seed: int = 0,
    workdir: Path,
    checkpoint_every: int = 100,
    val_every: int = 200,
    log_every: int = 50,
    selection: str = "last",
    device: str | None = None,
    bf16: bool = False,
    deterministic: bool = False,
    compile: bool = False,
    threads: int | None = None,
    progress: bool = True,
    val_ap: bool | None = None,
    val_radius: float | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> Path:
    """Train and return the path of the selected final checkpoint (workdir/'model.pt').

    Args:
        arch, hparams: model name in ``MODELS`` and its constructor arguments (plain types).
        train_images, val_images: ``(N, H, W)`` float32 in [0, 1] slices (background 0).
        steps: total optimisation steps (a resumed run continues up to ``steps``).
        batch_size: images per step; each epoch is a fresh permutation, the last partial
            batch is kept (as the original DataLoader).
        lr, weight_decay: AdamW settings (paper: 1e-3, 0.02; default betas, no schedule);
            the fused implementation where the device has one, else foreach.
        commitment_weight: weight of the VQ-VAE commitment loss (0.25); ignored by models
            whose ``loss`` has no such argument.
        seed: weight init and batch order; validation anomalies.
        workdir: directory for checkpoints and logs; resumes from ``workdir/last.pt`` when it
            is the same run (same data content and every setting that shapes the weights, i.e.
            all but ``steps``, ``checkpoint_every``, ``log_every``, ``threads``, ``progress``),
            else moves it to ``workdir/stale/`` and starts from step 0.
        checkpoint_every: steps between ``last.pt`` writes (always at the final step).
        val_every: steps between validations (always at the final step); 0 = never.
        log_every: steps between reads of the training losses from the device (the only host
            sync of the loop besides validation and checkpoints); every step's loss is logged,
            and a non-finite one stops the run at the next read, naming its step.
        selection: "last", "best_val_loss" or "best_val_ap" (the paper's label-informed choice).
            The validation loss is the training objective (L1, plus the weighted commitment
            for the VQ-VAE) in eval mode; the validation AP is the mean per-image pixel-AP of
            ``|reconstruction - anomalous|`` on :func:`validation_anomalies` (the original
            pooled the AP over shuffled batches of 128 instead).
        device: torch device; None = CUDA if available, else CPU.
        bf16: bfloat16 autocast for the training steps (CUDA only; ignored with a warning on
            CPU); validation runs in float32.
        deterministic: CUDA only: bit-reproducible kernels instead of cuDNN autotuning.
        compile: ``torch.compile`` the training step's loss (first steps pay the compilation).
        threads: ``torch.set_num_threads`` during training (restored afterwards).
        progress: tqdm bar on stderr.
        val_ap: compute validation pixel-AP; None = only when ``selection == "best_val_ap"``.
        val_radius: radius (px) of the validation disks; None = ``20 * W / 256`` (the paper's).
        callback: called as ``callback(step, loss)`` after every step, ``loss`` a 0-dim tensor
            on the device (reading it waits for the device); for hooks and tests.

    Raises:
        ValueError: bad arguments.
        TrainingDivergedError: non-finite loss or weights (names the step); the last good
            checkpoint is kept.
    """
    _check_args(selection, steps, batch_size, checkpoint_every, val_every, log_every)
    train_images, val_images = _checked_images(train_images, val_images, val_every)
    compute_ap = _wants_val_ap(val_ap, selection, val_every)
    workdir = _prepare_workdir(Path(workdir))
    dev = default_device(device)
    use_bf16 = _bf16_enabled(bf16, dev)
    deterministic = bool(deterministic) and dev.type == "cuda"  # CPU runs are anyway
    # Everything that shapes the weights (not `steps`: raising it continues the same run).
    fingerprint = {
        "arch": arch,
        "hparams": dict(hparams),
        "train_images": data_fingerprint(train_images),
        "val_images": data_fingerprint(val_images),
        "seed": int(seed),
        "batch_size": batch_size,
        "lr": float(lr),
        "weight_decay": float(weight_decay),
        "commitment_weight": float(commitment_weight),
        # They decide which steps compete for best_val_*: a resume must not change them.
        "val_every": val_every,
        "val_ap": compute_ap,
        "val_radius": val_radius_px(train_images.shape[2], val_radius) if compute_ap else None,
        "selection": selection,
        "bf16": use_bf16,
        "deterministic": deterministic,
        "compile": bool(compile),
    }

    with _torch_settings(dev, threads, deterministic):
        model, optimizer = _setup(arch, hparams, seed, dev, lr, weight_decay)
        run = _start_or_resume(workdir, fingerprint, steps, model, optimizer)
        loss_fn = torch.compile(model.loss) if compile else model.loss
        loss_options = _loss_options(model, commitment_weight)
        batches = _Batches(train_images, batch_size, int(seed), dev)
        anomalies = None
        if compute_ap:
            anomalies = validation_anomalies(val_images, int(seed), val_radius)[1:]

        model.train()
        losses: list[torch.Tensor] = []  # losses of the steps since the last read, on the device
        bar = tqdm(
            total=steps, initial=run.step, file=sys.stderr, disable=not progress,
            desc=f"train {arch}",
        )  # fmt: skip
        try:
            for step in range(run.step + 1, steps + 1):
                x = batches(step)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_bf16):
                    loss, _ = loss_fn(x, **loss_options)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                run.step = step
                losses.append(loss.detach())
                bar.update(1)
                if callback is not None:
                    callback(step, losses[-1])

                validate = bool(val_every) and (step % val_every == 0 or step == steps)
                save = step % checkpoint_every == 0 or step == steps
                if not (validate or save or step % log_every == 0):
                    continue
                _log_losses(workdir, run, losses)  # the one host sync; raises on non-finite
                bar.set_postfix(loss=f"{run.rows[-1][1]:.4f}")
                if validate:
                    val_loss, ap = _validate(
                        model, val_images, anomalies, batch_size=batch_size, device=dev,
                        loss_options=loss_options,
                    )  # fmt: skip
                    run.rows[-1] = (step, run.rows[-1][1], val_loss, ap)
                    _save_improved_best(workdir, model, run, fingerprint, val_loss, ap)
                if save:
                    _save_last(workdir, model, optimizer, run, fingerprint)
        finally:
            bar.close()

    _write_log(workdir / "loss.csv", run.rows)  # also when nothing was left to train
    return _finalize(workdir, selection, model, fingerprint, steps)


# --------------------------------------------------------------------------------------------
# setup, resume and checkpoints


def _checked_images(
    train_images: object, val_images: object, val_every: int
) -> tuple[np.ndarray, np.ndarray]:
    train_images = _check_images(train_images, "train_images")
    val_images = _check_images(val_images, "val_images")
    if len(train_images) == 0:
        raise ValueError("train_images is empty")
    if val_every and len(val_images) == 0:
        raise ValueError("val_images is empty but validation is enabled (val_every > 0)")
    if val_images.size and val_images.shape[1:] != train_images.shape[1:]:
        raise ValueError(
            f"val_images {val_images.shape[1:]} and train_images {train_images.shape[1:]} "
            "differ in image size"
        )
    return train_images, val_images


def _wants_val_ap(val_ap: bool | None, selection: str, val_every: int) -> bool:
    compute_ap = (selection == "best_val_ap") if val_ap is None else bool(val_ap)
    if selection == "best_val_ap" and not compute_ap:
        raise ValueError("selection 'best_val_ap' needs val_ap=True (or None)")
    if compute_ap and not val_every:
        raise ValueError("val_ap requested but val_every=0")
    return compute_ap


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


def _log_losses(workdir: Path, run: _Run, losses: list[torch.Tensor]) -> None:
    """Append the rows of the steps whose losses are in ``losses`` (read from the device in one
    transfer, then cleared); a non-finite loss raises, naming its step."""
    first = run.step - len(losses) + 1
    values = torch.stack(losses).float().tolist()
    losses.clear()
    for step, value in enumerate(values, start=first):
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"non-finite training loss ({value}) at step {step}; "
                f"last good checkpoint kept: {_last_good(workdir)}"
            )
        run.rows.append((step, value, None, None))


@dataclasses.dataclass
class _Run:
    """Progress of one run: last finished step, best validation metrics, loss-log rows."""

    step: int = 0
    best: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"val_loss": math.inf, "val_ap": -math.inf}
    )
    rows: list[tuple] = dataclasses.field(default_factory=list)


# Files of a run that a run with another fingerprint moves aside (into workdir/stale/).
RUN_FILES = ("last.pt", "best_val_loss.pt", "best_val_ap.pt", "loss.csv", "model.pt")


def _start_or_resume(
    workdir: Path,
    fingerprint: dict,
    steps: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> _Run:
    """Load ``workdir/last.pt`` into ``model``/``optimizer`` if it continues this run; else
    clear the way for a fresh one (stale ``best_*.pt``/``model.pt`` must never be selected)."""
    from residual_pitfalls.models import load_state_dict_checked

    last_path = workdir / "last.pt"
    ckpt = _same_run_checkpoint(workdir, fingerprint, steps)
    if ckpt is None:
        for name in RUN_FILES:
            (workdir / name).unlink(missing_ok=True)
        return _Run()
    load_state_dict_checked(model, ckpt["state_dict"], str(last_path))
    optimizer.load_state_dict(ckpt["optimizer"])
    for param, param_state in optimizer.state.items():  # e.g. saved contiguous, now NHWC
        for key, value in param_state.items():
            if torch.is_tensor(value) and value.shape == param.shape:
                param_state[key] = torch.empty_like(param).copy_(value)
    step = int(ckpt["step"])
    print(f"resuming from {last_path} at step {step} of {steps}", file=sys.stderr)
    return _Run(
        step=step,
        best={k: float(v) for k, v in ckpt["best"].items()},
        rows=[tuple(r) for r in ckpt["log"] if r[0] <= step],
    )


def _fingerprint_changes(old: dict, new: dict) -> list[str]:
    """Short descriptions of the fingerprint items that differ (content hashes by name only)."""
    changes = []
    for key, value in new.items():
        if key not in old:
            changes.append(f"{key}: not recorded")
        elif old[key] != value:
            hashed = key.endswith("_images")
            changes.append(
                f"{key}: other content" if hashed else f"{key}: {old[key]!r} -> {value!r}"
            )
    return changes


def _same_run_checkpoint(workdir: Path, fingerprint: dict, steps: int) -> dict | None:
    """``workdir/last.pt`` if it continues the run described by ``fingerprint``, else None.

    A ``last.pt`` of another run (other data or settings, or past ``steps``) is moved with its
    companions (:data:`RUN_FILES`) into ``workdir/stale/`` (replacing the one kept there before:
    one earlier run is kept, so an accidental config change costs no finished training, and disk
    use stays bounded) and one line on stderr says why.
    """
    last_path = workdir / "last.pt"
    if not last_path.exists():
        return None
    ckpt = read_checkpoint(last_path)
    missing = [k for k in ("step", "optimizer", "best", "log") if k not in ckpt]
    if missing:
        raise CheckpointError(f"resume checkpoint {last_path} lacks key(s) {missing}")
    if "fingerprint" in ckpt:
        changes = _fingerprint_changes(ckpt["fingerprint"], fingerprint)
    else:
        changes = ["no fingerprint (written by an older version)"]
    if int(ckpt["step"]) > steps:
        changes.append(f"it is at step {ckpt['step']}, beyond steps={steps}")
    if not changes:
        return ckpt
    stale = workdir / "stale"
    shutil.rmtree(stale, ignore_errors=True)
    stale.mkdir()
    for name in RUN_FILES:
        if (workdir / name).exists():
            os.replace(workdir / name, stale / name)
    print(
        f"{last_path} is from another run ({'; '.join(changes)}): moved it to {stale}/, "
        "training from step 0",
        file=sys.stderr,
    )
    return None


def _last_good(workdir: Path) -> str:
    last_path = workdir / "last.pt"
    return str(last_path) if last_path.exists() else "none yet"


def _save_last(
    workdir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    run: _Run,
    fingerprint: dict,
) -> None:
    """Write ``loss.csv`` and the resume checkpoint ``last.pt`` (refused for non-finite weights)."""
    if not _all_finite(model):
        raise TrainingDivergedError(
            f"non-finite weights after step {run.step}; last good checkpoint kept: "
            f"{_last_good(workdir)}"
        )
    _write_log(workdir / "loss.csv", run.rows)
    save_checkpoint(
        workdir / "last.pt",
        {
            "arch": fingerprint["arch"],
            "hparams": fingerprint["hparams"],
            "state_dict": _cpu_state(model),
            "step": run.step,
            "optimizer": optimizer.state_dict(),
            "best": dict(run.best),
            "fingerprint": fingerprint,
            # The log travels with the weights: a workflow manager may delete loss.csv
            # (an output of a failed job) while keeping last.pt.
            "log": [list(r) for r in run.rows],
        },
    )


def _save_improved_best(
    workdir: Path,
    model: nn.Module,
    run: _Run,
    fingerprint: dict,
    val_loss: float,
    val_ap: float | None,
) -> None:
    """Write ``best_val_*.pt`` for every metric that improved (strictly)."""
    improved = []
    if math.isfinite(val_loss) and val_loss < run.best["val_loss"]:
        improved.append(("val_loss", val_loss))
    if val_ap is not None and val_ap > run.best["val_ap"]:
        improved.append(("val_ap", val_ap))
    if improved and not _all_finite(model):
        raise TrainingDivergedError(f"non-finite weights at step {run.step}; best checkpoints kept")
    for name, value in improved:
        run.best[name] = value
        save_checkpoint(
            workdir / f"best_{name}.pt",
            {
                "arch": fingerprint["arch"],
                "hparams": fingerprint["hparams"],
                "state_dict": _cpu_state(model),
                "step": run.step,
                "metric": name,
                "value": value,
            },
        )


def _finalize(
    workdir: Path, selection: str, model: nn.Module, fingerprint: dict, steps: int
) -> Path:
    """Write ``model.pt``: the final weights or those of the selected best checkpoint."""
    if selection == "last":
        state, step = _cpu_state(model), steps
    else:
        path = workdir / f"{selection}.pt"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} missing: no finite validation metric was recorded for {selection!r}"
            )
        ckpt = read_checkpoint(path)
        state, step = ckpt["state_dict"], int(ckpt["step"])
    out = workdir / "model.pt"
    save_checkpoint(
        out,
        {
            "arch": fingerprint["arch"],
            "hparams": fingerprint["hparams"],
            "state_dict": state,
            "step": step,
            "selection": selection,
        },
    )
    return out
