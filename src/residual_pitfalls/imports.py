"""Import a user's object from a ``"package.module:attribute"`` path (bring your own model/scorer)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_object"]


def import_object(path: str, what: str = "object") -> Any:
    """Resolve ``"package.module:Name"`` (``Name`` may be dotted, ``Outer.inner``) to the object.

    ``what`` names the expected kind in messages (e.g. ``"ClassName"``, ``"function"``).
    Raises ValueError (malformed path) or ImportError (module or attribute missing), naming
    ``path``.
    """
    if not isinstance(path, str):
        raise ValueError(f"expected a string 'package.module:{what}', got {path!r}")
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:{what}', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import module {module_name!r} of {path!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ImportError(f"module {module_name!r} has no attribute {attr!r} ({path!r})")
        obj = getattr(obj, part)
    return obj
