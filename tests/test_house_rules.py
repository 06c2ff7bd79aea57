"""House rules of the library that a reviewer would otherwise count by hand (docs/development.md):
a function over ~60 lines says in a comment right above it why it stays long, and no module is
over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "residual_pitfalls"
LIMIT = 60


def long_functions_without_reason(root: Path, limit: int = LIMIT) -> list[str]:
    """'path:line name (N lines)' of every function over `limit` lines (decorators and docstring
    included) whose def, or first decorator, has no comment line directly above it."""
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - start + 1
            above = lines[start - 2].strip() if start >= 2 else ""
            if length > limit and not above.startswith("#"):
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_every_long_function_in_the_library_gives_its_reason():
    assert long_functions_without_reason(SRC) == []


def test_the_check_finds_a_long_function_and_accepts_its_reason(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))
    (tmp_path / "m.py").write_text(f"def long():\n{body}\n\n# reason\ndef explained():\n{body}")
    assert long_functions_without_reason(tmp_path) == [f"m.py:1 long ({LIMIT + 1} lines)"]


MODULE_LIMIT = 400


def long_modules(root: Path, limit: int = MODULE_LIMIT) -> list[str]:
    """'path (N lines)' of every module over `limit` lines: split it by concern instead."""
    found = []
    for path in sorted(root.rglob("*.py")):
        n = len(path.read_text().splitlines())
        if n > limit:
            found.append(f"{path.relative_to(root)} ({n} lines)")
    return found


def test_no_library_module_is_over_the_limit():
    assert long_modules(SRC) == []


def test_the_module_check_finds_a_long_module(tmp_path):
    (tmp_path / "big.py").write_text("x = 1\n" * (MODULE_LIMIT + 1))
    (tmp_path / "small.py").write_text("x = 1\n" * MODULE_LIMIT)
    assert long_modules(tmp_path) == [f"big.py ({MODULE_LIMIT + 1} lines)"]
