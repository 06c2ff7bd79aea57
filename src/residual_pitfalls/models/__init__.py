"""Reconstruction models: registry, checkpoints and batched inference.

Every model maps ``(B, 1, H, W)`` float32 to a reconstruction of the same shape and has
``loss(x) -> (scalar loss, reconstruction)``. Adding a model is one class plus one line in
:data:`residual_pitfalls.architectures.ARCHITECTURES` (torch-free, so the workflow can check names).

Checkpoints are plain dicts that load with ``torch.load(path, weights_only=True)``::

    {"arch": str, "hparams": dict, "state_dict": dict[str, Tensor], "step": int, ...}
"""

# Only re-exports: registry.py (names, device, building, loading), checkpoints.py (files),
# inference.py (reconstruct, BatchNorm modes), external.py (third-party models).
from __future__ import annotations

from residual_pitfalls.models.autoencoder import AutoEncoder, SpatialAutoEncoder
from residual_pitfalls.models.checkpoints import (
    CheckpointError,
    load_state_dict_checked,
    read_checkpoint,
    save_checkpoint,
)
from residual_pitfalls.models.inference import (
    BATCHNORM_MODES,
    has_batchnorm,
    per_image_batchnorm,
    reconstruct,
)
from residual_pitfalls.models.registry import (
    MODELS,
    build_model,
    default_device,
    load_configured_model,
    load_model,
    sized_hparams,
)
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
