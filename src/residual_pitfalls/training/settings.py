"""The settings of a training run (:class:`TrainSettings`) and the checks of its inputs."""

from __future__ import annotations

import dataclasses

import numpy as np

SELECTIONS = ("last", "best_val_loss", "best_val_ap")


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Every setting of :func:`train_model` (the config's ``training`` keys are its fields).

    Attributes:
        steps: total optimisation steps (a resumed run continues up to ``steps``).
        batch_size: images per step; each epoch is a fresh permutation, the last partial
            batch is kept (as the original DataLoader).
        lr, weight_decay: AdamW settings (paper: 1e-3, 0.02; default betas, no schedule);
            the fused implementation where the device has one, else foreach.
        commitment_weight: weight of the VQ-VAE commitment loss (0.25); ignored by models
            whose ``loss`` has no such argument.
        seed: weight init and batch order; validation anomalies.
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
        compute_val_ap: compute validation pixel-AP; None = only when
            ``selection == "best_val_ap"``.
        val_radius: radius (px) of the validation disks; None = ``20 * W / 256`` (the paper's).
    """

    steps: int
    batch_size: int
    lr: float = 1e-3
    weight_decay: float = 0.02
    commitment_weight: float = 0.25
    seed: int = 0
    checkpoint_every: int = 100
    val_every: int = 200
    log_every: int = 50
    selection: str = "last"
    device: str | None = None
    bf16: bool = False
    deterministic: bool = False
    compile: bool = False
    threads: int | None = None
    progress: bool = True
    compute_val_ap: bool | None = None
    val_radius: float | None = None


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
