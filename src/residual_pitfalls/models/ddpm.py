"""A denoising diffusion model used for reconstruction (AnoDDPM-style: Wyatt et al., CVPR-W 2022;
Behrendt et al. 2023), with a small U-Net noise predictor.

Training (Ho et al., NeurIPS 2020): images are mapped to [-1, 1], a timestep ``t`` is drawn
uniformly from 1..``timesteps``, ``x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps`` and the U-Net
predicts ``eps`` (mean squared error). Schedules: ``linear`` (beta 1e-4 .. 0.02, Ho et al.) or
``cosine`` (Nichol and Dhariwal 2021).

Reconstruction (``forward``): noise the input to step ``t0`` with ONE fixed noise field, drawn from
``torch.Generator().manual_seed(recon_seed)`` on the CPU and shared by every image, then denoise it
with ``sample_steps`` deterministic DDIM steps (eta = 0, Song et al. 2021) from ``t0`` to 0,
clipping the predicted clean image to [-1, 1] at each step. The reconstruction is a function of the
input alone (same input and seed, same output), images do not interact (GroupNorm), so a batch
gives what its images give one by one. Cost: ``sample_steps`` U-Net passes per image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from residual_pitfalls.models.unet import NoiseStream, UNet

__all__ = ["DiffusionModel", "alpha_bars", "ddim_timesteps"]

SCHEDULES = ("linear", "cosine")


def alpha_bars(schedule: str, timesteps: int) -> torch.Tensor:
    """``abar_t`` for t = 0..timesteps (float64, ``abar_0 = 1``: the clean image)."""
    if schedule == "linear":
        betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
        abar = torch.cumprod(1 - betas, 0)
    elif schedule == "cosine":
        s = 0.008
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        abar = torch.cumprod(1 - betas, 0)
    else:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {schedule!r}")
    return torch.cat([torch.ones(1, dtype=torch.float64), abar])


def ddim_timesteps(t0: int, steps: int) -> list[int]:
    """The decreasing timesteps ``t0 = s_0 > s_1 > ... > s_k = 0`` of at most ``steps`` steps."""
    ts = torch.linspace(t0, 0, steps + 1, dtype=torch.float64).round().long().tolist()
    return sorted(set(ts), reverse=True)


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class DiffusionModel(nn.Module):
    """DDPM noise predictor; ``forward`` = noise to ``t0`` and DDIM-denoise (a reconstruction)."""

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128),
        timesteps: int = 1000,
        schedule: str = "linear",
        t0: int = 250,
        sample_steps: int = 10,
        recon_seed: int = 0,
    ) -> None:
        super().__init__()
        self.timesteps = _positive_int("timesteps", timesteps)
        self.sample_steps = _positive_int("sample_steps", sample_steps)
        if not isinstance(t0, int) or isinstance(t0, bool) or not 1 <= t0 <= timesteps:
            raise ValueError(f"t0 must be an int in 1..timesteps ({timesteps}), got {t0!r}")
        if not isinstance(recon_seed, int) or isinstance(recon_seed, bool) or recon_seed < 0:
            raise ValueError(f"recon_seed must be an int >= 0, got {recon_seed!r}")
        self.t0, self.recon_seed, self.schedule = t0, recon_seed, schedule
        # not a buffer: a function of the hparams, so the state dict holds only learned weights
        self._abar = alpha_bars(schedule, timesteps).float()
        self.net = UNet(channels, time_embedding=True)
        self.noise = NoiseStream()
        self._field: dict[tuple, torch.Tensor] = {}

    def _abar_at(self, t: torch.Tensor) -> torch.Tensor:
        return self._abar.to(t.device)[t].view(-1, 1, 1, 1)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise-prediction MSE (scalar) at uniform timesteps, and the one-step estimate of the
        clean image in [0, 1] ``(B, 1, H, W)``."""
        self.net.check_input(x, type(self).__name__)
        gen = self.noise.generator(x.device)
        t = torch.randint(1, self.timesteps + 1, (len(x),), generator=gen, device=x.device)
        eps = torch.randn(x.shape, generator=gen, device=x.device, dtype=torch.float32)
        abar = self._abar_at(t)
        x_t = abar.sqrt() * (2 * x.float() - 1) + (1 - abar).sqrt() * eps
        pred = self.net(x_t.to(x.dtype), t)
        x0 = (x_t - (1 - abar).sqrt() * pred.float()) / abar.sqrt()
        return F.mse_loss(pred.float(), eps), ((x0.clamp(-1, 1) + 1) / 2).to(pred.dtype)

    def noise_field(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """The fixed ``(1, 1, H, W)`` N(0, 1) field of ``recon_seed`` (drawn on the CPU, so the
        same on every device), cached per size and device."""
        key = (height, width, str(device))
        if key not in self._field:
            gen = torch.Generator().manual_seed(self.recon_seed)
            self._field[key] = torch.randn((1, 1, height, width), generator=gen).to(device)
        return self._field[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` in [0, 1] -> the reconstruction in [0, 1], same shape."""
        self.net.check_input(x, type(self).__name__)
        abar = self._abar.to(x.device)
        ts = ddim_timesteps(self.t0, self.sample_steps)
        a0 = abar[ts[0]]
        x_t = a0.sqrt() * (2 * x.float() - 1) + (1 - a0).sqrt() * self.noise_field(
            x.shape[2], x.shape[3], x.device
        )
        x0 = x_t
        for t, s in zip(ts[:-1], ts[1:], strict=True):
            t_batch = torch.full((len(x),), t, device=x.device, dtype=torch.long)
            eps = self.net(x_t.to(x.dtype), t_batch).float()
            x0 = ((x_t - (1 - abar[t]).sqrt() * eps) / abar[t].sqrt()).clamp(-1, 1)
            x_t = abar[s].sqrt() * x0 + (1 - abar[s]).sqrt() * eps
        return ((x0 + 1) / 2).to(x.dtype)
