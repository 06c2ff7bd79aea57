"""Exp 4's cost at the default config (128^3, 10 embedded volumes, slab 60..70, 8 scorers) for one
(untrained) autoencoder: painting, reading the set, one model's reconstructions, scoring.

    PYTHONPATH=src python benchmarks/exp4_cost.py [workdir]    (default: a temporary folder)
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from residual_pitfalls.data.synthetic import synthetic_volume
from residual_pitfalls.experiments.zoo import model_healthy_stats
from residual_pitfalls.lesions.experiment import lesion_scores
from residual_pitfalls.lesions.painting import write_lesion_set
from residual_pitfalls.lesions.prepare import prepare_lesion_set
from residual_pitfalls.models import build_model, reconstruct, sized_hparams
from residual_pitfalls.scorers.builtin import SCORES
from residual_pitfalls.scorers.registry import resolve_scorers

torch.set_num_threads(1)
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
t = time.perf_counter()
vols = [synthetic_volume(60 + i, seed=0, size=128, slab=(60, 70))[0] for i in range(10)]
t_syn = time.perf_counter() - t
imgs = [out / f"vol-{i:04d}.nii.gz" for i in range(10)]
labs = [out / f"vol-{i:04d}_label.nii.gz" for i in range(10)]
t = time.perf_counter()
write_lesion_set(vols, imgs, labs, seed=0, n_lesions=4, axis=2)
t_paint = time.perf_counter() - t
train = np.stack(
    [
        synthetic_volume(i, seed=0, size=128, slab=(60, 70))[0][:, :, k]
        for i in range(6)
        for k in range(60, 70)
    ]
)
t = time.perf_counter()
stack, comps, summary = prepare_lesion_set(
    imgs,
    labs,
    None,
    train,
    set_name="embedded",
    train_name="synthetic",
    load={"size": 128, "normalisation": "none"},
    label_values={},
    axis=2,
    max_slices=60,
    min_size=3,
    max_wasserstein=0.05,
)
t_prep = time.perf_counter() - t
print(summary)
model = build_model("autoencoder", **sized_hparams("autoencoder", {"latent_dim": 128}, 128)).eval()
t = time.perf_counter()
rec = reconstruct(model, stack.images, batch_size=64)
t_rec = time.perf_counter() - t
stats = model_healthy_stats(train, train[:10], reconstruct(model, train[:10], batch_size=64))
t = time.perf_counter()
metrics, lesions = lesion_scores(
    stack, rec, comps, resolve_scorers({s: {} for s in SCORES}), stats=stats
)
t_score = time.perf_counter() - t
print(
    f"render 10 vols {t_syn:.1f}s (not part of Exp 4), paint+write {t_paint:.1f}s, prepare {t_prep:.1f}s, "
    f"reconstruct {len(stack.images)} slices {t_rec:.1f}s, score 8 scorers {t_score:.1f}s, components {len(comps)}, rows {len(lesions)}"
)
print(metrics[["score", "per_image_ap", "pooled_ap", "best_dice", "auroc"]].round(3).to_string())
