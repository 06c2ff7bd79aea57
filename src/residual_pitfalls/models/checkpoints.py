"""Checkpoint files: plain dicts that load with ``torch.load(path, weights_only=True)``::

    {"arch": str, "hparams": dict, "state_dict": dict[str, Tensor], "step": int, ...}

written atomically, read with clear errors.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

REQUIRED_KEYS = ("arch", "hparams", "state_dict")


class CheckpointError(ValueError):
    """A checkpoint file that is unreadable, incomplete or does not fit its architecture."""


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` with ``torch.save`` atomically: temp file in the same directory,
    fsync, ``os.replace``. A crash leaves either the old file or the new one, never a half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(dict(payload), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # Persist the rename itself (best effort: not every filesystem allows fsync on a directory).
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint dict with ``weights_only=True``, tensors mapped to ``device``.

    Raises FileNotFoundError (missing file), CheckpointError (corrupt, truncated, not a dict,
    or without the keys ``arch``, ``hparams``, ``state_dict``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, pickle errors, EOFError, ...
        raise CheckpointError(
            f"cannot read checkpoint {path} (corrupt, truncated or not a torch file): {exc}"
        ) from exc
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(ckpt).__name__}, expected a dict")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks key(s) {missing}; has {sorted(ckpt)}, "
            f"expected at least {list(REQUIRED_KEYS)}"
        )
    if not isinstance(ckpt["hparams"], dict):
        raise CheckpointError(f"checkpoint {path}: 'hparams' must be a dict")
    if not isinstance(ckpt["state_dict"], dict):
        raise CheckpointError(f"checkpoint {path}: 'state_dict' must be a dict")
    return ckpt


def _head(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


def load_state_dict_checked(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """``model.load_state_dict(state_dict)`` with an error that lists the missing and unexpected
    keys and the shape mismatches (``source`` names the file in the message)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"shape mismatch: {_head(shapes)}")
        if missing:
            parts.append(f"missing keys: {_head(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_head(unexpected)}")
        raise CheckpointError(
            f"weights in {source} do not fit the model ({type(model).__name__}): "
            + "; ".join(parts)
        )
    model.load_state_dict(state_dict)
