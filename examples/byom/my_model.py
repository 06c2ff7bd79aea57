"""An example of a model we did not write: a small convolutional autoencoder in your own code.

The pipeline only needs `forward(x) -> x_hat` for x of shape (B, 1, H, W) and a state dict.
"""

import torch
from torch import nn


class TinyAutoencoder(nn.Module):
    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.encode = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.decode = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
