"""Denoising autoencoder with coarse noise (Kascenas, Pugeault and O'Neil, MIDL 2022,
"Denoising autoencoders for unsupervised anomaly detection in brain MRI").

A U-Net (:class:`residual_pitfalls.models.unet.UNet`) is trained to map ``x + noise`` back to the
clean ``x``. The noise is *coarse*: Gaussian noise of standard deviation ``noise_std`` drawn on a
``noise_res x noise_res`` grid and upsampled bilinearly to the image size, so it looks like smooth
blobs rather than pixel noise (the paper's defaults: 16 x 16, sigma 0.2, at 128 x 128). The loss is
the residual loss of Meissen et al. (mean L1 between the reconstruction and the clean image; ``l2``
gives the mean squared error). At inference the model sees the clean (test) image and its output is
the reconstruction; the anomaly score is the residual as for the other models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from residual_pitfalls.models.unet import NoiseStream, UNet

__all__ = ["DenoisingAutoEncoder", "coarse_noise"]

LOSSES = ("l1", "l2")


def coarse_noise(
    shape: Sequence[int], noise_res: int, noise_std: float, generator: torch.Generator
) -> torch.Tensor:
    """``(B, C, H, W)`` noise: N(0, noise_std^2) on a ``noise_res`` grid, bilinearly upsampled to
    ``(H, W)`` (align_corners=False), on the generator's device."""
    b, c, h, w = shape
    low = torch.randn((b, c, noise_res, noise_res), generator=generator, device=generator.device)
    return F.interpolate(low * noise_std, size=(h, w), mode="bilinear", align_corners=False)


class DenoisingAutoEncoder(nn.Module):
    """U-Net denoiser of coarse noise; ``forward`` reconstructs, ``loss`` corrupts and denoises."""

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128),
        noise_res: int = 16,
        noise_std: float = 0.2,
        loss_type: str = "l1",
    ) -> None:
        super().__init__()
        if not isinstance(noise_res, int) or isinstance(noise_res, bool) or noise_res < 1:
            raise ValueError(f"noise_res must be a positive int, got {noise_res!r}")
        if not isinstance(noise_std, int | float) or noise_std < 0:
            raise ValueError(f"noise_std must be a number >= 0, got {noise_std!r}")
        if loss_type not in LOSSES:
            raise ValueError(f"loss_type must be one of {list(LOSSES)}, got {loss_type!r}")
        self.noise_res, self.noise_std, self.loss_type = noise_res, float(noise_std), loss_type
        self.net = UNet(channels)
        self.noise = NoiseStream()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` -> reconstruction of the same shape (the denoised input)."""
        self.net.check_input(x, type(self).__name__)
        return self.net(x)

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus coarse noise from the model's noise stream (the next draw when training)."""
        gen = self.noise.generator(x.device)
        return x + coarse_noise(x.shape, self.noise_res, self.noise_std, gen).to(x.dtype)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual loss between the denoised corrupted ``x`` and the clean ``x`` (scalar), and
        that reconstruction ``(B, 1, H, W)``."""
        rec = self(self.corrupt(x))
        fn = F.l1_loss if self.loss_type == "l1" else F.mse_loss
        return fn(rec.float(), x.float()), rec
