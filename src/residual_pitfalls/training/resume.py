"""Resumable runs: the fingerprint of a run, ``last.pt`` / ``best_*.pt`` / ``model.pt`` and
resuming from them (see :mod:`residual_pitfalls.training.loop` for the files)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from residual_pitfalls.models import (
    CheckpointError,
    read_checkpoint,
    save_checkpoint,
)
from residual_pitfalls.training.loss_log import _write_log


class TrainingDivergedError(RuntimeError):
    """The training loss or the weights became NaN/inf."""


def _all_finite(model: nn.Module) -> bool:
    return all(
        torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()
    )


def data_fingerprint(images: np.ndarray) -> str:
    """Content hash (hex) of a C-contiguous array: dtype, shape and bytes (~1 GB/s)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{images.dtype.str}{images.shape}".encode())
    digest.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return digest.hexdigest()


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


def _checkpoint(fingerprint: dict, state: dict, step: int, /, **extra: object) -> dict:
    """The one layout of every checkpoint of a run: ``arch``, ``hparams``, ``state_dict``,
    ``step``, then what the kind of checkpoint adds (``last.pt``: optimizer, best, fingerprint,
    log; ``best_*.pt``: metric, value; ``model.pt``: selection)."""
    return {
        "arch": fingerprint["arch"],
        "hparams": fingerprint["hparams"],
        "state_dict": state,
        "step": step,
        **extra,
    }


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
        _checkpoint(
            fingerprint,
            _cpu_state(model),
            run.step,
            optimizer=optimizer.state_dict(),
            best=dict(run.best),
            fingerprint=fingerprint,
            # The log travels with the weights: a workflow manager may delete loss.csv
            # (an output of a failed job) while keeping last.pt.
            log=[list(r) for r in run.rows],
        ),
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
            _checkpoint(fingerprint, _cpu_state(model), run.step, metric=name, value=value),
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
    save_checkpoint(out, _checkpoint(fingerprint, state, step, selection=selection))
    return out


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


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    # contiguous: a channels_last CUDA run stores the same checkpoint layout as a CPU run
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}
