"""Models we did not write: a TorchScript file, or an importable class plus its weights.

The loaded model must follow the project's contract: ``model(x)`` with ``x`` ``(B, 1, H, W)``
float32 returns a reconstruction of the same shape (or a tuple whose first element is one);
:func:`residual_pitfalls.models.reconstruct` checks that at inference time.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from residual_pitfalls.imports import import_object
from residual_pitfalls.models.checkpoints import CheckpointError, load_state_dict_checked

__all__ = ["import_class", "load_external_model"]


def import_class(class_path: str) -> type[nn.Module]:
    """Resolve ``"package.module:ClassName"`` to a ``torch.nn.Module`` subclass.

    Raises ValueError (malformed path, not a Module subclass) or ImportError (module or
    attribute missing), naming ``class_path``.
    """
    try:
        obj = import_object(class_path, "ClassName")
    except ValueError:
        raise ValueError(
            f"class_path must look like 'package.module:ClassName', got {class_path!r}"
        ) from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ValueError(f"{class_path!r} is not a torch.nn.Module subclass")
    return obj


def load_external_model(
    *,
    checkpoint: Path,
    class_path: str | None = None,
    hparams: dict | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Load a third-party reconstruction model, on ``device`` and in eval mode.

    * ``class_path=None``: ``checkpoint`` is a TorchScript file (``torch.jit.save``).
    * ``class_path="package.module:ClassName"``: instantiate ``ClassName(**hparams)`` and load
      the state dict from ``checkpoint`` (a plain state dict or a dict with ``"state_dict"``),
      read with ``weights_only=True``.

    Raises FileNotFoundError (missing checkpoint), ImportError/ValueError (class path),
    TypeError (hparams the class does not accept) or
    :class:`residual_pitfalls.models.checkpoints.CheckpointError` (unreadable file, mismatching weights).
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"external model checkpoint not found: {checkpoint}")
    if class_path is None:
        if hparams:
            raise ValueError(
                f"hparams {sorted(hparams)} given for TorchScript file {checkpoint}; "
                "they are only used with class_path"
            )
        try:
            with warnings.catch_warnings():
                # torch >= 2.10 deprecates TorchScript in favour of torch.export; files saved
                # with torch.jit still load, and users should not see the warning per model.
                warnings.filterwarnings("ignore", "`torch.jit", DeprecationWarning)
                model = torch.jit.load(str(checkpoint), map_location="cpu")
        except Exception as exc:
            raise CheckpointError(
                f"cannot load {checkpoint} as TorchScript (give class_path for a state dict): {exc}"
            ) from exc
        return model.to(device).eval()

    cls = import_class(class_path)
    try:
        model = cls(**(hparams or {}))
    except TypeError as exc:
        raise TypeError(f"cannot build {class_path} with hparams {hparams}: {exc}") from exc
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read weights from {checkpoint}: {exc}") from exc
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not all(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        raise CheckpointError(
            f"{checkpoint} holds neither a state dict nor a dict with a 'state_dict' entry"
        )
    load_state_dict_checked(model, payload, str(checkpoint))
    return model.to(device).eval()
