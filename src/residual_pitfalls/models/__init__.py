"""Reconstruction models: registry, checkpoints and batched inference.

Every model maps ``(B, 1, H, W)`` float32 to a reconstruction of the same shape and has
``loss(x) -> (scalar loss, reconstruction)``. Adding a model is one class plus one line in
:data:`residual_pitfalls.architectures.ARCHITECTURES` (torch-free, so the workflow can check names).

Checkpoints are plain dicts that load with ``torch.load(path, weights_only=True)``::

    {"arch": str, "hparams": dict, "state_dict": dict[str, Tensor], "step": int, ...}
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from residual_pitfalls.architectures import ARCHITECTURES
from residual_pitfalls.model_checks import EVAL_SEED, seeded_torch
from residual_pitfalls.models.autoencoder import AutoEncoder, SpatialAutoEncoder
from residual_pitfalls.models.external import import_class, load_external_model
from residual_pitfalls.models.vqvae import VQVAE2

__all__ = [
    "BATCHNORM_MODES",
    "MODELS",
    "CheckpointError",
    "AutoEncoder",
    "SpatialAutoEncoder",
    "VQVAE2",
    "build_model",
    "default_device",
    "load_configured_model",
    "load_model",
    "load_state_dict_checked",
    "has_batchnorm",
    "per_image_batchnorm",
    "sized_hparams",
    "read_checkpoint",
    "reconstruct",
    "save_checkpoint",
]

MODELS: dict[str, type[nn.Module]] = {
    name: import_class(path) for name, path in ARCHITECTURES.items()
}

REQUIRED_KEYS = ("arch", "hparams", "state_dict")

# How BatchNorm layers normalise at inference: "eval" (running statistics, ``model.eval()``) or
# "per_image" (each image alone, normalised by its own statistics: the original code, which never
# called ``model.eval()`` and evaluated at batch size 1).
BATCHNORM_MODES = ("eval", "per_image")
# TorchScript keeps the eager class name in ``original_name``.
_BATCHNORM_NAMES = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"}


class CheckpointError(ValueError):
    """A checkpoint file that is unreadable, incomplete or does not fit its architecture."""


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


def _batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    """The BatchNorm layers of ``model``, eager or TorchScript."""
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        or getattr(m, "original_name", None) in _BATCHNORM_NAMES
    ]


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


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` has a BatchNorm layer (so ``batchnorm="per_image"`` can change it)."""
    return bool(_batchnorm_layers(model))


@contextlib.contextmanager
def per_image_batchnorm(model: nn.Module) -> Iterator[bool]:
    """Within the block, ``model``'s BatchNorm layers normalise with the statistics of the batch
    they see (training-mode BatchNorm) while every other layer stays in eval mode (dropout off,
    VQ codebooks frozen). Every buffer (running statistics, batch counters, codebooks) is restored
    on exit, so nothing a forward pass does in the block outlives it and results do not depend on
    the order of the images. Yields whether the model has any BatchNorm layer.
    """
    layers = _batchnorm_layers(model)
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    model.eval()
    try:
        for layer in layers:
            layer.train()
        yield bool(layers)
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)
        model.eval()


def reconstruct(
    model: nn.Module,
    images: np.ndarray,
    *,
    batch_size: int = 32,
    device: str | None = None,
    batchnorm: str = "eval",
) -> np.ndarray:
    """Reconstruct ``images`` ``(N, H, W)`` float32 in [0, 1]; returns ``(N, H, W)`` float32.

    Puts ``model`` in eval mode and moves it to ``device`` (auto: CUDA if available).
    ``batchnorm="eval"``: BatchNorm uses its running statistics (a deviation from the original,
    which never called ``eval()``). ``batchnorm="per_image"``: the original's behaviour without
    its side effects: each image goes through the model alone and BatchNorm normalises it by its
    own statistics; every other layer stays in eval mode and no running statistic changes (see
    :func:`per_image_batchnorm`; a model without BatchNorm gives the same result as in "eval").
    The VQ-VAE codebooks stay fixed in both modes. A model returning a tuple contributes its first
    element. The model sees a copy of each batch, and the result is a new array, so ``images``
    stays as it was whatever the model does to its input. The forward passes run under torch's
    seed ``model_checks.EVAL_SEED`` (the global generators restored afterwards), so a model that is
    random in eval mode gives the same result on every call. Raises ValueError for a bad input, an
    output of another shape, or a non-finite output.
    """
    if not isinstance(images, np.ndarray) or images.ndim != 3:
        raise ValueError(
            f"images must be a (N, H, W) numpy array, got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if batchnorm not in BATCHNORM_MODES:
        raise ValueError(f"batchnorm must be one of {list(BATCHNORM_MODES)}, got {batchnorm!r}")
    dev = default_device(device)
    model = model.to(dev).eval()
    x_all = np.ascontiguousarray(images, dtype=np.float32)
    out = np.empty_like(x_all)
    single = False
    with contextlib.ExitStack() as stack:
        if batchnorm == "per_image" and stack.enter_context(per_image_batchnorm(model)):
            single, batch_size = True, 1  # BatchNorm normalises with the image's own statistics
        stack.enter_context(torch.no_grad())
        # a model that is random in eval mode (dropout left on) gives the same numbers every run
        stack.enter_context(seeded_torch(EVAL_SEED, dev))
        for start in range(0, len(x_all), batch_size):
            # A fresh tensor per batch (torch.tensor always copies): a model that writes into its
            # input (``x.mul_(...)``) must never change the images the scores are computed against.
            x = torch.tensor(x_all[start : start + batch_size], device=dev)[:, None]
            try:
                rec = model(x)
            except ValueError as exc:  # torch: "Expected more than 1 value per channel ..."
                if not single:
                    raise
                raise ValueError(
                    f"{type(model).__name__} cannot normalise one image by its own statistics "
                    f"(evaluation.batchnorm: per_image): a BatchNorm layer sees a single value "
                    f"per channel ({exc}); use evaluation.batchnorm: eval for this model"
                ) from exc
            if isinstance(rec, tuple | list):
                rec = rec[0]
            if tuple(rec.shape) != tuple(x.shape):
                raise ValueError(
                    f"{type(model).__name__} returned shape {tuple(rec.shape)} for input "
                    f"{tuple(x.shape)}; expected the input shape"
                )
            rec_np = rec[:, 0].float().cpu().numpy()
            if not np.isfinite(rec_np).all():
                raise ValueError(
                    f"{type(model).__name__} produced non-finite values for images "
                    f"{start}..{start + len(x) - 1}"
                )
            out[start : start + len(x)] = rec_np
    return out
