"""A small U-Net (pure torch) shared by the denoising autoencoder and the diffusion model, and the
seeded noise stream their training objectives draw from.

The U-Net has ``len(channels)`` levels; level ``i`` works at ``1 / 2**i`` of the input size with
``channels[i]`` channels: two [Conv3x3 -> GroupNorm -> SiLU] per level, strided-conv down-sampling,
nearest up-sampling + Conv3x3, skip connections by concatenation, a 1x1 output convolution. An
optional time embedding (sinusoidal -> MLP) is added after each block's first convolution (DDPM).
GroupNorm normalises each image alone, so a batch gives the same output as its images one by one.

:class:`NoiseStream` makes the objectives' random draws a function of (seed, draw index): the seed
is the training seed (``torch.initial_seed()`` while the training loop builds the model under its
seeded ``fork_rng``), the index counts the training steps, and both travel in the state dict
(``_extra_state``), so a resumed run draws exactly what an uninterrupted one would. Nothing here
reads or changes the global torch RNG state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["NoiseStream", "UNet", "check_channels"]

_EVAL_STREAM = 2**32 - 1  # the fixed draws of evaluation-mode losses (validation)


def check_channels(channels: Sequence[int], name: str = "channels") -> tuple[int, ...]:
    """``channels`` as a tuple of positive ints (at least two levels), else ValueError."""
    if isinstance(channels, int | str) or len(channels) < 2:
        raise ValueError(f"{name} must be a list of >= 2 positive ints, got {channels!r}")
    for c in channels:
        if not isinstance(c, int) or isinstance(c, bool) or c < 1:
            raise ValueError(f"{name} must be a list of >= 2 positive ints, got {channels!r}")
    return tuple(channels)


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(ch, 8), ch)


class _Block(nn.Module):
    """[Conv3x3 -> GroupNorm -> SiLU] x 2; the time embedding is added after the first conv."""

    def __init__(self, cin: int, cout: int, emb_dim: int | None) -> None:
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(cin, cout, 3, padding=1), _norm(cout)
        self.conv2, self.norm2 = nn.Conv2d(cout, cout, 3, padding=1), _norm(cout)
        self.emb = nn.Linear(emb_dim, cout) if emb_dim else None
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, emb: torch.Tensor | None) -> torch.Tensor:
        h = self.conv1(h)
        if self.emb is not None:
            h = h + self.emb(emb)[:, :, None, None]
        h = self.act(self.norm1(h))
        return self.act(self.norm2(self.conv2(h)))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(B, dim)`` of the (float) timesteps ``t`` ``(B,)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class UNet(nn.Module):
    """``(B, 1, H, W)`` (+ timesteps ``(B,)`` when ``time_embedding``) -> ``(B, 1, H, W)``;
    H and W must be divisible by ``2 ** (len(channels) - 1)``."""

    def __init__(self, channels: Sequence[int], time_embedding: bool = False) -> None:
        super().__init__()
        self.channels = check_channels(channels)
        self.emb_dim = 4 * self.channels[0] if time_embedding else None
        if self.emb_dim:
            self.time_mlp = nn.Sequential(
                nn.Linear(self.channels[0], self.emb_dim), nn.SiLU(),
                nn.Linear(self.emb_dim, self.emb_dim),
            )  # fmt: skip
        chs = self.channels
        self.inp = nn.Conv2d(1, chs[0], 3, padding=1)
        self.down = nn.ModuleList(_Block(c, c, self.emb_dim) for c in chs[:-1])
        self.pool = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in zip(chs[:-1], chs[1:], strict=True)
        )
        self.mid = _Block(chs[-1], chs[-1], self.emb_dim)
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(b, a, 3, padding=1)
            )
            for a, b in zip(chs[:-1], chs[1:], strict=True)
        )
        self.dec = nn.ModuleList(_Block(2 * c, c, self.emb_dim) for c in chs[:-1])
        self.out = nn.Conv2d(chs[0], 1, 1)

    def check_input(self, x: torch.Tensor, owner: str) -> None:
        factor = 2 ** (len(self.channels) - 1)
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(
                f"{owner} expects input of shape (B, 1, H, W) with H and W divisible by {factor}, "
                f"got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        emb = None
        if self.emb_dim:
            emb = self.time_mlp(timestep_embedding(t, self.channels[0]))
        h = self.inp(x)
        skips = []
        for block, pool in zip(self.down, self.pool, strict=True):
            h = block(h, emb)
            skips.append(h)
            h = pool(h)
        h = self.mid(h, emb)
        for up, block in zip(reversed(self.up), reversed(self.dec), strict=True):
            h = block(torch.cat([up(h), skips.pop()], dim=1), emb)
        return self.out(h)


class NoiseStream(nn.Module):
    """Seeded generators for a training objective: draw ``k`` of seed ``s`` is seeded with
    ``SeedSequence([s, k])``. In training mode every :meth:`generator` call is the next draw; in
    eval mode (validation) it is always the same fixed draw, so validation losses are deterministic.
    The state (seed, draws) is the module's ``_extra_state`` (a CPU int64 tensor) in the state dict.
    """

    def __init__(self) -> None:
        super().__init__()
        # The seed the training loop set (it builds models under fork_rng + manual_seed(seed)).
        self.seed = int(torch.initial_seed()) % 2**63
        self.draws = 0

    def generator(self, device: torch.device) -> torch.Generator:
        if self.training:
            self.draws += 1
            index = self.draws
        else:
            index = _EVAL_STREAM
        state = np.random.SeedSequence([self.seed, index]).generate_state(2, np.uint32)
        gen = torch.Generator(device=device)
        gen.manual_seed(int(state[0]) << 31 ^ int(state[1]))
        return gen

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor([self.seed, self.draws], dtype=torch.int64)

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.seed, self.draws = (int(v) for v in state.tolist())
