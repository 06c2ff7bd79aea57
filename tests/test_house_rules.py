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


# --- import cycles, hidden ones included -------------------------------------------------------
# Every import counts, function-level ones too, and importing a.b.c counts as importing a.b (its
# __init__ runs first): a cycle that only works because of import order is still a cycle.


def module_name(path: Path, root: Path) -> str:
    """'residual_pitfalls/models/__init__.py' -> 'residual_pitfalls.models'."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph(src: Path, package: str = "residual_pitfalls") -> dict[str, set[str]]:
    """{module: the package's modules it imports}, relative imports resolved."""
    mods = {module_name(p, src): p for p in sorted((src / package).rglob("*.py"))}
    graph = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t in mods and t != name:
                    deps.add(t)
        # importing a.b.c runs a and a.b first
        for d in list(deps):
            parts = d.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if parent in mods and parent != name and not name.startswith(parent + "."):
                    deps.add(parent)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first search meets, each as [a, b, ..., a]."""
    found, state = [], {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                found.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    return found


def test_the_library_has_no_import_cycle():
    assert cycles(import_graph(SRC.parent)) == []


def test_the_cycle_check_finds_a_cycle_through_a_package_init(tmp_path):
    pkg = tmp_path / "residual_pitfalls" / "sub"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from residual_pitfalls.sub.a import f\n")
    (pkg / "a.py").write_text("def f():\n    from residual_pitfalls.other import g\n")
    (pkg.parent / "other.py").write_text("from residual_pitfalls.sub import f as g\n")
    assert cycles(import_graph(tmp_path)) != []
    (pkg.parent / "other.py").write_text("g = 1\n")
    assert cycles(import_graph(tmp_path)) == []
