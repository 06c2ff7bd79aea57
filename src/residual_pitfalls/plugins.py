"""Where a bring-your-own scorer or model lives: its module's source file, for the workflow to
track (a job that uses a plug-in takes its file as an input, so editing it reruns that job)."""

from __future__ import annotations

import importlib.util
import os

__all__ = ["plugin_source"]


def plugin_source(path: str) -> str | None:
    """The source file of the module of ``"package.module:Name"``; None if it has none.

    The whole module file, not only the object's code: a helper of the function in the same
    file changes its numbers too. None for a module without a source file (a C extension or a
    namespace package); a module that cannot be found raises ImportError naming ``path``.
    """
    module_name = str(path).partition(":")[0]
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as exc:
        raise ImportError(f"cannot find module {module_name!r} of {path!r}: {exc}") from exc
    if spec is None:
        raise ImportError(f"cannot find module {module_name!r} of {path!r}")
    origin = spec.origin
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return None
    return os.path.abspath(origin)
