"""Validation during training: the loss on validation slices and the pixel AP of fixed disk
anomalies painted on them (seeded once, the same at every validation)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Tag that separates the validation-anomaly RNG streams from the batch-shuffling streams.
# The paper's validation anomalies: radius 20 px at 256 x 256, scaled with the image size.
VAL_RADIUS_AT_256 = 20.0
_VAL_ANOMALY_STREAM = 0x5A1


def val_radius_px(width: int, radius: float | None) -> float:
    """The validation disk radius in pixels: ``radius``, or ``20 * width / 256`` if None."""
    if radius is None:
        return VAL_RADIUS_AT_256 * width / 256.0
    if not 0 < radius < width / 2:
        raise ValueError(
            f"val_radius must be in (0, {width / 2}) px for {width}-px wide images, got {radius!r}"
        )
    return float(radius)


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


def run_validation(
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


def _wants_val_ap(compute_val_ap: bool | None, selection: str, val_every: int) -> bool:
    compute_ap = (selection == "best_val_ap") if compute_val_ap is None else bool(compute_val_ap)
    if selection == "best_val_ap" and not compute_ap:
        raise ValueError("selection 'best_val_ap' needs compute_val_ap=True (or None)")
    if compute_ap and not val_every:
        raise ValueError("compute_val_ap requested but val_every=0")
    return compute_ap
