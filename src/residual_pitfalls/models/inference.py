"""Batched inference: reconstructions with BatchNorm in eval or per-image mode."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from residual_pitfalls.architectures import BATCHNORM_MODES
from residual_pitfalls.models.registry import default_device

# TorchScript keeps the eager class name in ``original_name``.
_BATCHNORM_NAMES = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"}

# The torch seed of every evaluation forward pass (reconstruct): a stochastic model's numbers are
# one fixed draw, the same on every rerun.
EVAL_SEED = 0


@contextlib.contextmanager
def seeded_torch(seed: int = EVAL_SEED, device: torch.device | str = "cpu") -> Iterator[None]:
    """Within the block torch's global generators (CPU, and ``device``'s if CUDA) start from
    ``seed``; on exit they are restored, so nothing outside the block sees a changed state."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _batchnorm_layers(model: nn.Module) -> list[nn.Module]:
    """The BatchNorm layers of ``model``, eager or TorchScript."""
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        or getattr(m, "original_name", None) in _BATCHNORM_NAMES
    ]


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


# Over ~60 lines only by its signature and docstring: the code itself is under 60 lines.
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
    seed ``EVAL_SEED`` (:func:`seeded_torch`; the global generators are restored afterwards), so a
    model that is random in eval mode gives the same result on every call. Raises ValueError for a
    bad input, an output of another shape, or a non-finite output.
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
