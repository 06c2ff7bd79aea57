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
resume in between.
"""

from __future__ import annotations

import contextlib
import csv
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
    "plot_loss_curve",
    "train_model",
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
    selection: str, steps: int, batch_size: int, checkpoint_every: int, val_every: int
) -> None:
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; valid: {list(SELECTIONS)}")
    for name, value, low in (
        ("steps", steps, 1),
        ("batch_size", batch_size, 1),
        ("checkpoint_every", checkpoint_every, 1),
        ("val_every", val_every, 0),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if selection != "last" and val_every == 0:
        raise ValueError(f"selection {selection!r} needs validation, but val_every=0")


def data_fingerprint(images: np.ndarray) -> str:
    """Content hash (hex) of a C-contiguous array: dtype, shape and bytes (~1 GB/s)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{images.dtype.str}{images.shape}".encode())
    digest.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return digest.hexdigest()


def validation_anomalies(
    images: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disk anomalies of random intensity U(0, 1) for validation pixel-AP (SPEC 5.4).

    Image ``i`` draws its intensity then its centre from
    ``np.random.default_rng([seed, 0x5A1, i])``; the radius is ``20 * W / 256`` pixels.
    Images without foreground are dropped.

    Args:
        images: ``(N, H, W)`` float32 in [0, 1], healthy validation slices.
        seed: int >= 0.

    Returns:
        ``(kept (M,) int64 indices, anomalous (M, H, W) float32 in [0, 1], labels (M, H, W)
        bool)``.
    """
    from residual_pitfalls.anomalies import disk_anomaly, sample_centre

    radius = VAL_RADIUS_AT_256 * images.shape[2] / 256.0
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
def _torch_settings(device: torch.device, threads: int | None) -> Iterator[None]:
    """Thread count and cuDNN determinism for the duration of training, restored afterwards."""
    old_threads = torch.get_num_threads()
    old_det, old_bench = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be >= 1, got {threads}")
            torch.set_num_threads(threads)
        if device.type == "cuda":
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_det, old_bench


def _seeded_model(arch: str, hparams: dict, seed: int) -> nn.Module:
    # fork_rng leaves the caller's global torch RNG untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, **hparams)


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _all_finite(model: nn.Module) -> bool:
    return all(
        torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()
    )


def _loss_options(model: nn.Module, commitment_weight: float) -> dict[str, float]:
    params = inspect.signature(model.loss).parameters
    return {"commitment_weight": commitment_weight} if "commitment_weight" in params else {}


def _batch_indices(step: int, n: int, batch_size: int, seed: int, cache: dict) -> np.ndarray:
    """Indices of the batch of 1-based ``step``; the last partial batch of an epoch is kept."""
    per_epoch = math.ceil(n / batch_size)
    epoch, k = divmod(step - 1, per_epoch)
    if cache.get("epoch") != epoch:
        cache["epoch"] = epoch
        cache["perm"] = np.random.default_rng([seed, epoch]).permutation(n)
    return cache["perm"][k * batch_size : (k + 1) * batch_size]


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


def _read_log(path: Path) -> list[tuple]:
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
    autocast: Callable[[], contextlib.AbstractContextManager],
    loss_options: dict,
) -> tuple[float, float | None]:
    """Mean validation loss and, if ``anomalies`` is given, mean per-image pixel-AP."""
    from residual_pitfalls.metrics import average_precision_batch

    model.eval()
    total = 0.0
    aps: list[np.ndarray] = []
    with torch.no_grad(), autocast():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(images[start : start + batch_size]).to(device)[:, None]
            loss, _ = model.loss(x, **loss_options)
            total += float(loss) * len(x)
        if anomalies is not None:
            anomalous, labels = anomalies
            for start in range(0, len(anomalous), batch_size):
                x_np = anomalous[start : start + batch_size]
                rec = model(torch.from_numpy(x_np).to(device)[:, None])
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
    selection: str = "last",
    device: str | None = None,
    bf16: bool = False,
    threads: int | None = None,
    progress: bool = True,
    val_ap: bool | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> Path:
    """Train and return the path of the selected final checkpoint (workdir/'model.pt').

    Args:
        arch, hparams: model name in ``MODELS`` and its constructor arguments (plain types).
        train_images, val_images: ``(N, H, W)`` float32 in [0, 1] slices (background 0).
        steps: total optimisation steps (a resumed run continues up to ``steps``).
        batch_size: images per step; each epoch is a fresh permutation, the last partial
            batch is kept (as the original DataLoader).
        lr, weight_decay: AdamW settings (paper: 1e-3, 0.02; default betas, no schedule).
        commitment_weight: weight of the VQ-VAE commitment loss (0.25); ignored by models
            whose ``loss`` has no such argument.
        seed: weight init and batch order; validation anomalies.
        workdir: directory for checkpoints and logs; resumes from ``workdir/last.pt`` when it
            is the same run (same data content and every setting above but ``steps``), else
            moves it to ``workdir/stale/`` and starts from step 0.
        checkpoint_every: steps between ``last.pt`` writes (always at the final step).
        val_every: steps between validations (always at the final step); 0 = never.
        selection: "last", "best_val_loss" or "best_val_ap" (the paper's label-informed choice).
            The validation loss is the training objective (L1, plus the weighted commitment
            for the VQ-VAE) in eval mode; the validation AP is the mean per-image pixel-AP of
            ``|reconstruction - anomalous|`` on :func:`validation_anomalies` (the original
            pooled the AP over shuffled batches of 128 instead).
        device: torch device; None = CUDA if available, else CPU.
        bf16: bfloat16 autocast (CUDA only; ignored with a warning on CPU).
        threads: ``torch.set_num_threads`` during training (restored afterwards).
        progress: tqdm bar on stderr.
        val_ap: compute validation pixel-AP; None = only when ``selection == "best_val_ap"``.
        callback: called as ``callback(step, train_loss)`` after every step (hooks, tests).

    Raises:
        ValueError: bad arguments.
        TrainingDivergedError: non-finite loss or weights (names the step); the last good
            checkpoint is kept.
    """
    _check_args(selection, steps, batch_size, checkpoint_every, val_every)
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
    compute_ap = (selection == "best_val_ap") if val_ap is None else bool(val_ap)
    if selection == "best_val_ap" and not compute_ap:
        raise ValueError("selection 'best_val_ap' needs val_ap=True (or None)")
    if compute_ap and not val_every:
        raise ValueError("val_ap requested but val_every=0")

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in workdir.glob(".*.tmp"):  # leftovers of a write interrupted by a kill
        stale.unlink(missing_ok=True)
    last_path, log_path = workdir / "last.pt", workdir / "loss.csv"
    best_paths = {"val_loss": workdir / "best_val_loss.pt", "val_ap": workdir / "best_val_ap.pt"}

    dev = default_device(device)
    use_bf16 = bool(bf16) and dev.type == "cuda"
    if bf16 and not use_bf16:
        import warnings

        warnings.warn("bf16 autocast is CUDA-only; training in float32 on CPU", stacklevel=2)

    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_bf16)

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
        "selection": selection,
        "bf16": use_bf16,
    }

    with _torch_settings(dev, threads):
        model = _seeded_model(arch, hparams, seed).to(dev)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        loss_options = _loss_options(model, commitment_weight)
        best = {"val_loss": math.inf, "val_ap": -math.inf}
        start, rows = 0, []
        previous = _same_run_checkpoint(workdir, fingerprint, steps)
        if previous is not None:
            start, best, rows = _resume(previous, last_path, model, optimizer)
            print(f"resuming from {last_path} at step {start} of {steps}", file=sys.stderr)
        else:
            for path in (*best_paths.values(), workdir / "model.pt"):
                path.unlink(missing_ok=True)  # a fresh run must not select a stale model

        anomalies = None
        if compute_ap:
            _, anomalous, labels = validation_anomalies(val_images, int(seed))
            anomalies = (anomalous, labels)

        def checkpoint(step: int) -> None:
            if not _all_finite(model):
                raise TrainingDivergedError(
                    f"non-finite weights after step {step}; last good checkpoint kept: {last_path}"
                )
            _write_log(log_path, rows)
            save_checkpoint(
                last_path,
                {
                    "arch": arch,
                    "hparams": dict(hparams),
                    "state_dict": _cpu_state(model),
                    "step": step,
                    "optimizer": optimizer.state_dict(),
                    "best": dict(best),
                    "fingerprint": fingerprint,
                    # The log travels with the weights: a workflow manager may delete loss.csv
                    # (an output of a failed job) while keeping last.pt.
                    "log": [list(r) for r in rows],
                },
            )

        cache: dict = {}
        model.train()
        bar = tqdm(
            total=steps, initial=start, file=sys.stderr, disable=not progress, desc=f"train {arch}"
        )
        try:
            for step in range(start + 1, steps + 1):
                idx = _batch_indices(step, len(train_images), batch_size, int(seed), cache)
                x = torch.from_numpy(train_images[idx]).to(dev)[:, None]
                with autocast():
                    loss, _ = model.loss(x, **loss_options)
                loss_value = float(loss.detach())
                if not math.isfinite(loss_value):
                    raise TrainingDivergedError(
                        f"non-finite training loss ({loss_value}) at step {step}; last good "
                        f"checkpoint kept: {last_path if last_path.exists() else 'none yet'}"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

                val_loss = ap = None
                if val_every and (step % val_every == 0 or step == steps):
                    val_loss, ap = _validate(
                        model,
                        val_images,
                        anomalies,
                        batch_size=batch_size,
                        device=dev,
                        autocast=autocast,
                        loss_options=loss_options,
                    )
                    _update_best(model, best, best_paths, arch, hparams, step, val_loss, ap)
                rows.append((step, loss_value, val_loss, ap))
                if step % checkpoint_every == 0 or step == steps:
                    checkpoint(step)
                bar.update(1)
                if step % 10 == 0 or step == steps:
                    bar.set_postfix(loss=f"{loss_value:.4f}")
                if callback is not None:
                    callback(step, loss_value)
        finally:
            bar.close()

        _write_log(log_path, rows)  # also when nothing was left to train
        return _finalize(workdir, selection, model, arch, hparams, steps, best_paths)


# Files of a run that a run with another fingerprint moves aside (into workdir/stale/).
RUN_FILES = ("last.pt", "best_val_loss.pt", "best_val_ap.pt", "loss.csv", "model.pt")


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


def _resume(
    ckpt: dict, last_path: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int, dict[str, float], list[tuple]]:
    """Load checkpoint ``ckpt`` into ``model``/``optimizer``; return (step, best, log rows)."""
    from residual_pitfalls.models import load_state_dict_checked

    step = int(ckpt["step"])
    load_state_dict_checked(model, ckpt["state_dict"], str(last_path))
    optimizer.load_state_dict(ckpt["optimizer"])
    rows = [tuple(r) for r in ckpt["log"] if r[0] <= step]
    return step, {k: float(v) for k, v in ckpt["best"].items()}, rows


def _update_best(
    model: nn.Module,
    best: dict[str, float],
    best_paths: dict[str, Path],
    arch: str,
    hparams: dict,
    step: int,
    val_loss: float,
    val_ap: float | None,
) -> None:
    """Write ``best_val_*.pt`` for every metric that improved (strictly)."""
    improved = []
    if math.isfinite(val_loss) and val_loss < best["val_loss"]:
        improved.append(("val_loss", val_loss))
    if val_ap is not None and val_ap > best["val_ap"]:
        improved.append(("val_ap", val_ap))
    if improved and not _all_finite(model):
        raise TrainingDivergedError(f"non-finite weights at step {step}; best checkpoints kept")
    for name, value in improved:
        best[name] = value
        save_checkpoint(
            best_paths[name],
            {
                "arch": arch,
                "hparams": dict(hparams),
                "state_dict": _cpu_state(model),
                "step": step,
                "metric": name,
                "value": value,
            },
        )


def _finalize(
    workdir: Path,
    selection: str,
    model: nn.Module,
    arch: str,
    hparams: dict,
    steps: int,
    best_paths: dict[str, Path],
) -> Path:
    if selection == "last":
        state, step = _cpu_state(model), steps
    else:
        path = best_paths[selection.removeprefix("best_")]
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
            "arch": arch,
            "hparams": dict(hparams),
            "state_dict": state,
            "step": step,
            "selection": selection,
        },
    )
    return out


# --------------------------------------------------------------------------------------------
# plotting


def plot_loss_curve(csv_path: str | Path, png_path: str | Path) -> None:
    """Plot ``loss.csv`` (training loss per step, validation loss and pixel-AP) to a PNG."""
    # A bare Figure (no pyplot) leaves the global backend and figure registry alone.
    from matplotlib.figure import Figure

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"loss log not found: {csv_path}")
    rows = _read_log(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no rows to plot")
    step = np.array([r[0] for r in rows])
    train = np.array([np.nan if r[1] is None else r[1] for r in rows])
    val = np.array([np.nan if r[2] is None else r[2] for r in rows])
    ap = np.array([np.nan if r[3] is None else r[3] for r in rows])

    fig = Figure(figsize=(6, 3.5))
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
    ax.legend(handles, labels, fontsize="small", loc="upper right")
    fig.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=120)
