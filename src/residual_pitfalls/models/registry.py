"""The model registry: architectures by name, device choice, building and loading a model."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from residual_pitfalls.architectures import ARCHITECTURES
from residual_pitfalls.models.checkpoints import (
    CheckpointError,
    load_state_dict_checked,
    read_checkpoint,
)
from residual_pitfalls.models.external import import_class, load_external_model

MODELS: dict[str, type[nn.Module]] = {
    name: import_class(path) for name, path in ARCHITECTURES.items()
}


def default_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def sized_hparams(arch: str, hparams: Mapping[str, Any], image_size: int) -> dict[str, Any]:
    """``hparams`` with ``inp_size=image_size`` added for architectures built for one input size
    (the dense-bottleneck autoencoders); an explicit ``inp_size`` in hparams wins."""
    if arch not in MODELS:
        raise ValueError(f"unknown model arch {arch!r}; valid: {sorted(MODELS)}")
    takes_size = "inp_size" in inspect.signature(MODELS[arch].__init__).parameters
    return {**({"inp_size": image_size} if takes_size else {}), **hparams}


def build_model(arch: str, **hparams: Any) -> nn.Module:
    """Instantiate ``MODELS[arch](**hparams)``.

    Raises ValueError for an unknown ``arch`` (listing the valid ones) or an hparam the
    constructor does not take (naming it and listing the valid ones); the constructors raise
    ValueError for bad values.
    """
    if arch not in MODELS:
        raise ValueError(f"unknown model arch {arch!r}; valid: {sorted(MODELS)}")
    cls = MODELS[arch]
    params = inspect.signature(cls.__init__).parameters
    valid = [p for p in params if p != "self"]
    unknown = [k for k in hparams if k not in valid]
    if unknown:
        raise ValueError(f"unknown hparam(s) {unknown} for arch {arch!r}; valid: {valid}")
    return cls(**hparams)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model stored in checkpoint ``path``; returned on ``device``, in eval mode.

    Raises FileNotFoundError, CheckpointError (unreadable file, missing keys, weights that do
    not fit the architecture its hparams describe) or ValueError (unknown arch or hparam).
    """
    ckpt = read_checkpoint(path, device="cpu")
    try:
        model = build_model(ckpt["arch"], **ckpt["hparams"])
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path}: {exc}") from exc
    load_state_dict_checked(model, ckpt["state_dict"], str(path))
    return model.to(device).eval()


def load_configured_model(spec: Mapping[str, Any], checkpoint: str | Path) -> nn.Module:
    """The model of a config ``models:`` entry, on the CPU in eval mode: one this package trained
    (:func:`load_model`), or a bring-your-own ``checkpoint`` entry (``models.external``)."""
    if "checkpoint" in spec:
        return load_external_model(
            checkpoint=Path(checkpoint),
            class_path=spec.get("class_path"),
            hparams=spec.get("hparams"),
        )
    return load_model(checkpoint)
