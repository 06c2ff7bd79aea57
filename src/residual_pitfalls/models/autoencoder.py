"""Vanilla (dense bottleneck) and spatial (convolutional bottleneck) autoencoders.

Both follow SPEC.md sections 5.1 and 5.2 (Baur et al. 2019 as used by Meissen et al. 2022):

* encoder: ``L = log2(inp_size) - log2(intermediate_resolution)`` blocks of
  [Conv2d k3 s2 p1 without bias -> BatchNorm2d -> LeakyReLU(0.01)] with hidden channels
  ``min(4 * width, width * 2**i)``; the output is ``(B, hidden[-1], r, r)``, ``r = intermediate``;
* bottleneck: dense ``Linear`` layers (vanilla) or 1x1 convolutions (spatial), no bias and no
  activation around the latent;
* decoder: the mirror image with ConvTranspose2d k3 s2 p1 output_padding 1, then a 1x1 Conv2d to one
  channel and an identity output activation.

At 256x256 with the defaults the parameter counts are 785,408 + 16,384 * latent_dim (vanilla) and
785,408 + 256 * latent_channels (spatial), exactly as the authors' models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AutoEncoder", "SpatialAutoEncoder", "conv_encoder", "conv_decoder", "hidden_dims"]


def _check_sizes(inp_size: int, intermediate_resolution: int, width: int) -> int:
    """Validate the geometry and return the number of down-sampling blocks."""
    for name, value in (
        ("inp_size", inp_size),
        ("intermediate_resolution", intermediate_resolution),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
        if value & (value - 1):
            raise ValueError(f"{name} must be a power of two, got {value}")
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    if intermediate_resolution >= inp_size:
        raise ValueError(
            f"intermediate_resolution ({intermediate_resolution}) must be smaller than "
            f"inp_size ({inp_size})"
        )
    return int(math.log2(inp_size) - math.log2(intermediate_resolution))


def hidden_dims(num_layers: int, width: int) -> list[int]:
    """Channel widths of the encoder blocks: ``min(4 * width, width * 2**i)``, i < num_layers."""
    return [min(4 * width, width * 2**i) for i in range(num_layers)]


def conv_encoder(dims: list[int], in_channels: int = 1) -> nn.Sequential:
    """Strided conv encoder; each block halves H and W. Output channels ``dims[-1]``."""
    layers: list[nn.Module] = []
    prev = in_channels
    for dim in dims:
        layers += [
            nn.Conv2d(prev, dim, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(dim),
            nn.LeakyReLU(0.01),
        ]
        prev = dim
    return nn.Sequential(*layers)


def conv_decoder(dims: list[int], out_channels: int = 1) -> nn.Sequential:
    """Mirror of :func:`conv_encoder`: takes ``dims[-1]`` channels, doubles H and W per block."""
    layers: list[nn.Module] = []
    # The last up-sampling block keeps dims[0] channels; the 1x1 conv then maps to the output.
    targets = list(reversed(dims[:-1])) + [dims[0]]
    prev = dims[-1]
    for dim in targets:
        layers += [
            nn.ConvTranspose2d(
                prev, dim, kernel_size=3, stride=2, padding=1, output_padding=1, bias=False
            ),
            nn.BatchNorm2d(dim),
            nn.LeakyReLU(0.01),
        ]
        prev = dim
    layers.append(nn.Conv2d(prev, out_channels, kernel_size=1, bias=False))
    return nn.Sequential(*layers)


class _ConvAutoEncoder(nn.Module):
    """Shared encoder/decoder, input checks and L1 loss; subclasses define the bottleneck."""

    def __init__(self, inp_size: int, intermediate_resolution: int, width: int) -> None:
        super().__init__()
        num_layers = _check_sizes(inp_size, intermediate_resolution, width)
        self.inp_size = inp_size
        self.intermediate_resolution = intermediate_resolution
        self.dims = hidden_dims(num_layers, width)
        self.encoder = conv_encoder(self.dims)
        self.decoder = conv_decoder(self.dims)

    def bottleneck(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_input(self, x: torch.Tensor) -> None:
        size = self.inp_size
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != size or x.shape[3] != size:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (B, 1, {size}, {size}), "
                f"got {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` float32 (S = inp_size) -> reconstruction of the same shape."""
        self._check_input(x)
        return self.decoder(self.bottleneck(self.encoder(x)))

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean L1 reconstruction loss (scalar) and the reconstruction ``(B, 1, S, S)``."""
        rec = self(x)
        return F.l1_loss(rec.float(), x.float()), rec


class AutoEncoder(_ConvAutoEncoder):
    """Vanilla autoencoder with a dense latent vector of ``latent_dim`` features (SPEC 5.1)."""

    def __init__(
        self,
        inp_size: int = 256,
        intermediate_resolution: int = 8,
        latent_dim: int = 128,
        width: int = 32,
    ) -> None:
        super().__init__(inp_size, intermediate_resolution, width)
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self._feat_shape = (self.dims[-1], intermediate_resolution, intermediate_resolution)
        n_feat = math.prod(self._feat_shape)
        self.to_latent = nn.Linear(n_feat, latent_dim, bias=False)
        self.from_latent = nn.Linear(latent_dim, n_feat, bias=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` -> latent ``(B, latent_dim)``."""
        self._check_input(x)
        return self.to_latent(self.encoder(x).flatten(1))

    def bottleneck(self, h: torch.Tensor) -> torch.Tensor:
        z = self.to_latent(h.flatten(1))
        return self.from_latent(z).view(-1, *self._feat_shape)


class SpatialAutoEncoder(_ConvAutoEncoder):
    """Autoencoder with a ``latent_channels x r x r`` latent from 1x1 convolutions (SPEC 5.2).

    Fully convolutional, so it also accepts other input sizes divisible by ``2**L``; the
    ``inp_size`` check keeps it honest about what it was built (and trained) for.
    """

    def __init__(
        self,
        inp_size: int = 256,
        intermediate_resolution: int = 8,
        latent_channels: int = 1,
        width: int = 32,
    ) -> None:
        super().__init__(inp_size, intermediate_resolution, width)
        if (
            not isinstance(latent_channels, int)
            or isinstance(latent_channels, bool)
            or latent_channels < 1
        ):
            raise ValueError(f"latent_channels must be a positive int, got {latent_channels!r}")
        self.latent_channels = latent_channels
        self.to_latent = nn.Conv2d(self.dims[-1], latent_channels, kernel_size=1, bias=False)
        self.from_latent = nn.ConvTranspose2d(
            latent_channels, self.dims[-1], kernel_size=1, bias=False
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` -> latent ``(B, latent_channels, r, r)``."""
        self._check_input(x)
        return self.to_latent(self.encoder(x))

    def bottleneck(self, h: torch.Tensor) -> torch.Tensor:
        return self.from_latent(self.to_latent(h))
