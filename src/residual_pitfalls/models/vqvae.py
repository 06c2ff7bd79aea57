"""Hierarchical VQ-VAE-2 (Razavi et al. 2019) in the configuration of SPEC.md section 5.3.

Bottom encoder (stride 4) -> top encoder (stride 2) -> top codebook at input/8 -> top decoder
(x2) concatenated with the bottom features -> bottom codebook at input/4 -> decoder (x4) from
[up-sampled top codes, bottom codes]. Codebooks are updated by exponential moving averages (not
by gradients) and gradients pass the quantiser straight through. With the defaults the model has
1,384,769 trainable parameters plus two ``(64, 512)`` codebook buffers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["VQVAE2", "VectorQuantizerEMA"]


class VectorQuantizerEMA(nn.Module):
    """Nearest-neighbour codebook with EMA updates (only in training mode).

    Input ``(B, H, W, dim)`` float; returns the straight-through quantised tensor of the same
    shape, the commitment loss ``mean((sg[q] - z)**2)`` (scalar) and the code indices
    ``(B, H, W)`` int64 in ``[0, n_embed)``.
    """

    def __init__(self, dim: int, n_embed: int, decay: float = 0.99, eps: float = 1e-5) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.dim = dim
        self.n_embed = n_embed
        self.decay = decay
        self.eps = eps
        embed = torch.randn(dim, n_embed)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(n_embed))
        self.register_buffer("embed_avg", embed.clone())

    # Eager under torch.compile: compiled (torch 2.13, CPU) its in-place EMA updates went wrong
    # (training loss 0.51 -> 118 at the second step of a tiny model; eager stays at 0.51).
    @torch.compiler.disable
    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Distances and EMA statistics in float32 even under bf16 autocast: argmin ties and the
        # running averages are too sensitive for 8 mantissa bits.
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            flat = z.reshape(-1, self.dim)
            dist = (
                flat.pow(2).sum(1, keepdim=True)
                - 2 * flat @ self.embed
                + self.embed.pow(2).sum(0, keepdim=True)
            )
            codes = dist.argmin(1)
            quant = F.embedding(codes, self.embed.t()).view_as(z)
            if self.training:
                self._ema_update(flat, codes)
            commitment = (quant.detach() - z).pow(2).mean()
            quant = z + (quant - z).detach()
        return quant, commitment, codes.view(z.shape[:-1])

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        # Per-code counts and sums without a dense (rows x n_embed) one-hot: at batch 128 and
        # 256^2 the one-hot of the bottom codes alone is ~1 GiB. Equal to the one-hot products up
        # to float rounding (counts exactly: whole numbers < 2**24). index_add_ rather than
        # bincount, which reads codes.max() back to the host on CUDA; index_add_ is
        # deterministic there under torch.use_deterministic_algorithms.
        counts = flat.new_zeros(self.n_embed).index_add_(0, codes, flat.new_ones(len(codes)))
        sums = flat.new_zeros(self.n_embed, self.dim).index_add_(0, codes, flat)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums.t(), alpha=1 - self.decay)
        n = self.cluster_size.sum()
        # Laplace smoothing keeps unused codes from dividing by zero.
        size = (self.cluster_size + self.eps) / (n + self.n_embed * self.eps) * n
        self.embed.copy_(self.embed_avg / size.unsqueeze(0))


class ResBlock(nn.Module):
    """``x + Conv1x1(ReLU(Conv3x3(ReLU(x))))``; channels ``channel -> res_channel -> channel``."""

    def __init__(self, channel: int, res_channel: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channel, res_channel, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(res_channel, channel, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _encoder(
    in_ch: int, channel: int, n_res_block: int, n_res_channel: int, stride: int
) -> nn.Sequential:
    """Down-sampling encoder by ``stride`` (2 or 4) to ``channel`` feature maps."""
    half = channel // 2
    if stride == 4:
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, half, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(half, channel, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channel, channel, 3, padding=1),
        ]
    elif stride == 2:
        layers = [
            nn.Conv2d(in_ch, half, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(half, channel, 3, padding=1),
        ]
    else:
        raise ValueError(f"encoder stride must be 2 or 4, got {stride}")
    layers += [ResBlock(channel, n_res_channel) for _ in range(n_res_block)]
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _decoder(
    in_ch: int, out_ch: int, channel: int, n_res_block: int, n_res_channel: int, stride: int
) -> nn.Sequential:
    """Up-sampling decoder by ``stride`` (2 or 4) from ``in_ch`` to ``out_ch`` channels."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, channel, 3, padding=1)]
    layers += [ResBlock(channel, n_res_channel) for _ in range(n_res_block)]
    layers.append(nn.ReLU())
    if stride == 4:
        layers += [
            nn.ConvTranspose2d(channel, channel // 2, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channel // 2, out_ch, 4, stride=2, padding=1),
        ]
    elif stride == 2:
        layers.append(nn.ConvTranspose2d(channel, out_ch, 4, stride=2, padding=1))
    else:
        raise ValueError(f"decoder stride must be 2 or 4, got {stride}")
    return nn.Sequential(*layers)


class VQVAE2(nn.Module):
    """Two-level VQ-VAE-2; ``forward`` maps ``(B, C, H, W)`` to a reconstruction of that shape.

    ``H`` and ``W`` must be divisible by 8 (top codes at ``H/8``, bottom codes at ``H/4``).
    Images in this project are ``(B, 1, H, W)`` float32 in [0, 1]; the output is unbounded
    (no output activation, as the original).
    """

    def __init__(
        self,
        in_channel: int = 1,
        channel: int = 128,
        n_res_block: int = 2,
        n_res_channel: int = 32,
        embed_dim: int = 64,
        n_embed: int = 512,
        decay: float = 0.99,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channel", in_channel),
            ("channel", channel),
            ("n_res_channel", n_res_channel),
            ("embed_dim", embed_dim),
            ("n_embed", n_embed),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(n_res_block, int) or n_res_block < 0:
            raise ValueError(f"n_res_block must be a non-negative int, got {n_res_block!r}")
        self.in_channel = in_channel
        self.enc_b = _encoder(in_channel, channel, n_res_block, n_res_channel, stride=4)
        self.enc_t = _encoder(channel, channel, n_res_block, n_res_channel, stride=2)
        self.quantize_conv_t = nn.Conv2d(channel, embed_dim, 1)
        self.quantize_t = VectorQuantizerEMA(embed_dim, n_embed, decay)
        self.dec_t = _decoder(embed_dim, embed_dim, channel, n_res_block, n_res_channel, stride=2)
        self.quantize_conv_b = nn.Conv2d(embed_dim + channel, embed_dim, 1)
        self.quantize_b = VectorQuantizerEMA(embed_dim, n_embed, decay)
        self.upsample_t = nn.ConvTranspose2d(embed_dim, embed_dim, 4, stride=2, padding=1)
        self.dec = _decoder(2 * embed_dim, in_channel, channel, n_res_block, n_res_channel, 4)

    @staticmethod
    def _quantize(
        quantizer: VectorQuantizerEMA, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, diff, codes = quantizer(z.permute(0, 2, 3, 1))
        return q.permute(0, 3, 1, 2), diff, codes

    def encode(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(quant_t, quant_b, commitment, codes_t, codes_b)``.

        ``quant_t`` is ``(B, embed_dim, H/8, W/8)``, ``quant_b`` ``(B, embed_dim, H/4, W/4)``,
        ``commitment`` the scalar sum of both levels' commitment losses.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channel or x.shape[2] % 8 or x.shape[3] % 8:
            raise ValueError(
                f"VQVAE2 expects input of shape (B, {self.in_channel}, H, W) with H and W "
                f"divisible by 8, got {tuple(x.shape)}"
            )
        enc_b = self.enc_b(x)
        enc_t = self.enc_t(enc_b)
        quant_t, diff_t, codes_t = self._quantize(self.quantize_t, self.quantize_conv_t(enc_t))
        dec_t = self.dec_t(quant_t)
        # Under autocast dec_t may be bf16 while enc_b is float32; cat needs one dtype.
        enc_b = torch.cat([dec_t, enc_b.to(dec_t.dtype)], 1)
        quant_b, diff_b, codes_b = self._quantize(self.quantize_b, self.quantize_conv_b(enc_b))
        return quant_t, quant_b, diff_t + diff_b, codes_t, codes_b

    def decode(self, quant_t: torch.Tensor, quant_b: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, D, H/8, W/8)`` and ``(B, D, H/4, W/4)`` -> image ``(B, C, H, W)``."""
        up_t = self.upsample_t(quant_t)
        return self.dec(torch.cat([up_t, quant_b.to(up_t.dtype)], 1))

    def forward_with_commitment(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction ``(B, C, H, W)`` and the scalar commitment loss."""
        quant_t, quant_b, commitment, _, _ = self.encode(x)
        return self.decode(quant_t, quant_b), commitment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``(B, C, H, W)`` of ``x``; in training mode the codebooks update."""
        return self.forward_with_commitment(x)[0]

    def loss(
        self, x: torch.Tensor, commitment_weight: float = 0.25
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``L1(rec, x) + commitment_weight * commitment`` (scalar) and the reconstruction."""
        rec, commitment = self.forward_with_commitment(x)
        return F.l1_loss(rec.float(), x.float()) + commitment_weight * commitment, rec
