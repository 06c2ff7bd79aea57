"""Your own training code, standing in for any training loop: trains TinyAutoencoder on the pipeline's
training slices and saves (a) its state dict and (b) a TorchScript file.

    python examples/byom/train_tiny.py results/data/train.npy my_model.pt my_model.torchscript.pt
"""

import sys

import numpy as np
import torch
from my_model import TinyAutoencoder

train_npy, state_path, script_path = sys.argv[1:4]
images = torch.from_numpy(np.load(train_npy))[:, None]
torch.manual_seed(0)
model = TinyAutoencoder(channels=16)
optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
for _ in range(50):
    batch = images[torch.randint(len(images), (16,))]
    loss = (model(batch) - batch).abs().mean()
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
print(f"final L1 {loss.item():.4f}")
torch.save(model.state_dict(), state_path)
torch.jit.save(torch.jit.script(model.eval()), script_path)
