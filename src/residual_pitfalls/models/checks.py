"""Checks of a model before its evaluation, and the seed its forward passes run under.

Two ways a model gave wrong or unrepeatable Exp. 3 numbers without a word:

- a traced TorchScript model (``torch.jit.trace``) bakes the BatchNorm mode into its graph, so
  ``evaluation.batchnorm: per_image`` changed nothing (identical eval and per-image curves, which
  read as "no BatchNorm"): :func:`check_model_for_evaluation` refuses it, naming the model;
- a model whose output is random in eval mode (dropout applied unconditionally) gave different APs
  on a rerun: every :func:`~residual_pitfalls.models.inference.reconstruct` call runs under
  :func:`~residual_pitfalls.models.inference.seeded_torch` (``EVAL_SEED``), and the check warns,
  naming the model.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from residual_pitfalls.models.inference import (
    EVAL_SEED,
    has_batchnorm,
    per_image_batchnorm,
    reconstruct,
    seeded_torch,
)

__all__ = ["check_model_for_evaluation"]


def _first(output: object) -> torch.Tensor:
    return output[0] if isinstance(output, tuple | list) else output


def _forward(model: nn.Module, x: torch.Tensor, *, per_image: bool) -> torch.Tensor:
    with contextlib.ExitStack() as stack:
        if per_image:
            stack.enter_context(per_image_batchnorm(model))
        else:
            model.eval()
        stack.enter_context(torch.no_grad())
        stack.enter_context(seeded_torch(EVAL_SEED, x.device))
        return _first(model(x.clone())).detach().float().cpu()


def check_model_for_evaluation(
    model: nn.Module, name: str, images: np.ndarray, *, batchnorm: str = "eval"
) -> bool:
    """Probe ``model`` (config name ``name``) on the first image of ``images`` ``(N, H, W)``.

    Warns (naming the model) when two eval-mode passes over the same input differ: the model is
    stochastic, and its numbers hold for the evaluation seed ``EVAL_SEED`` only. With
    ``batchnorm="per_image"`` raises ValueError naming the model when it has BatchNorm layers
    but normalising by the image's own statistics leaves its output unchanged (a traced
    TorchScript model). Returns whether the model is stochastic. The model ends in eval mode.
    """
    if len(images) == 0:
        return False
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = torch.tensor(np.asarray(images[:1], dtype=np.float32), device=device)[:, None]
    model.eval()
    with torch.no_grad():
        first, second = (_first(model(x.clone())).detach().float().cpu() for _ in range(2))
    stochastic = not torch.equal(first, second)
    if stochastic:
        diff = float((first - second).abs().max())
        warnings.warn(
            f"model {name!r} is stochastic in eval mode: two passes over the same image differ "
            f"by up to {diff:.3g} (dropout or sampling left on). Its evaluation runs with the torch "
            f"seed {EVAL_SEED} (residual_pitfalls.models.inference.EVAL_SEED), so reruns agree, but "
            "its APs are one draw of a random model",
            stacklevel=2,
        )
    if batchnorm == "per_image" and has_batchnorm(model):
        try:
            per_image = _forward(model, x, per_image=True)
        except ValueError:  # one value per channel: training-mode BatchNorm, so it does switch
            per_image = None
        # equal up to float rounding (a switching BatchNorm changes outputs by ~0.1-1)
        if per_image is not None and torch.allclose(
            per_image, _forward(model, x, per_image=False), rtol=0.0, atol=1e-6
        ):
            raise ValueError(
                f"model {name!r}: evaluation.batchnorm: per_image cannot switch its BatchNorm "
                "layers (its output with per-image statistics equals the eval-mode output to "
                "1e-6), as in a traced TorchScript model: torch.jit.trace fixes the BatchNorm "
                "mode when tracing. Export it with torch.jit.script (or give class_path and a "
                "state dict), or set evaluation.batchnorm: eval; the BatchNorm comparison "
                "(results/fig3a_per_image_bn) runs every model per image too"
            )
    model.eval()
    return stochastic


def evaluation_reconstructor(
    checkpoint: str,
    images: np.ndarray,
    *,
    spec: dict,
    name: str,
    batch_size: int,
    batchnorm: str,
) -> Callable[[np.ndarray], np.ndarray]:
    """A configured model, loaded and checked on `images` (:func:`check_model_for_evaluation`),
    as the ``images -> reconstructions`` function every job that evaluates a model runs (Exp. 3,
    Exp. 4, a model's healthy statistics): one place, so no job reconstructs with a model the
    check would refuse. The keywords are the workflow's ``evaluated_model`` params."""
    from residual_pitfalls.models.registry import load_configured_model

    model = load_configured_model(spec, checkpoint)
    check_model_for_evaluation(model, name, images, batchnorm=batchnorm)
    return functools.partial(reconstruct, model, batch_size=batch_size, batchnorm=batchnorm)
