"""The package's layers: imports go down only, no import cycles, no imports of our own modules inside functions,
no function longer than a screen. Read from the source (AST), so a violation fails wherever it hides."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chinese_ptm"

#: the layers, lowest first; a module may import its own subpackage and any lower layer, never a higher one
#: or another subpackage of its own layer
LAYERS = [
    {"errors", "resources"},
    {"text"},
    {"glyph"},
    {"data"},
    {"masking"},
    {"modeling"},
    {"runtime"},
    {"pretrain", "finetune"},
    {"prompt", "csc", "attention", "distill"},
    {"apps"},
    {"cli", "__init__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: longest function (lines), the model file's forward passes included
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def imports_of(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported chinese_ptm module, line, inside a function) of every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    known = modules()
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Try) and any(_catches_import_error(h) for h in child.handlers):
                continue  # an optional import (code copied beside a checkpoint runs without chinese_ptm)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(child, name, path.name == "__init__.py")
                for alias in child.names:  # ``from . import module`` names a module
                    sub = f"{target}.{alias.name}"
                    found.append((sub if sub in known else target, child.lineno, in_function))
            visit(child, inside)

    visit(tree, False)
    return [(t, line, inside) for t, line, inside in found if t == "chinese_ptm" or t.startswith("chinese_ptm.")]


def layer(name: str) -> str:
    parts = name.split(".")
    if parts[-1] == "__main__":  # ``python -m chinese_ptm.<package>``: an entry point, as the command line
        return "cli"
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = defaultdict(set)
    for name, path in known.items():
        for target, _, _ in imports_of(name, path):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != name:
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(edges):
        if v not in index:
            strong(v)
    return out


def test_every_subpackage_has_a_layer():
    subpackages = {layer(name) for name in modules()}
    assert subpackages <= set(RANK), f"subpackages without a layer in LAYERS: {subpackages - set(RANK)}"


def test_imports_go_down_the_layers():
    wrong = []
    for name, path in modules().items():
        here = layer(name)
        for target, line, _ in imports_of(name, path):
            there = layer(target)
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {target} ({there})")
    assert not wrong, "imports that go up or sideways:\n" + "\n".join(wrong)


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_our_modules_are_imported_at_the_top():
    """Imports inside functions are for optional or heavy third-party dependencies only."""
    inside = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for name, path in modules().items()
        for target, line, in_function in imports_of(name, path)
        if in_function
    ]
    assert not inside, "imports of our own modules inside functions:\n" + "\n".join(inside)


def function_lengths(path: Path) -> list[tuple[str, int, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.lineno, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def test_functions_fit_on_a_screen():
    long = [
        f"{p.relative_to(ROOT)}:{line} {name} ({n} lines)"
        for p in modules().values()
        for name, line, n in function_lengths(p)
        if n > MAX_FUNCTION_LINES
    ]
    assert not long, "functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_wheel_lists_every_subpackage():
    """pyproject's explicit package list (it maps the top-level data folders too) names every subpackage."""
    listed = set(re.findall(r'"(chinese_ptm[\w.]*)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")))
    packages = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert packages <= listed, f"missing from [tool.setuptools] packages: {sorted(packages - listed)}"


def test_ruff_lint_and_format():
    """The code passes ruff's checks and is formatted as ruff formats it (pyproject's settings)."""
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    paths = ["chinese_ptm", "tests", "bench"]
    check = subprocess.run([ruff, "check", "--no-cache", *paths], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]
    fmt = subprocess.run([ruff, "format", "--check", "--no-cache", *paths], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout[-3000:]


def test_core_layers_type_check():
    """The core layers (text, modeling, runtime) type-check clean under mypy (pyproject's [tool.mypy] settings)."""
    import shutil
    import subprocess
    import sys

    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    if mypy is None:
        pytest.skip("mypy is not installed next to this Python (pip install -e '.[dev]')")
    paths = ["chinese_ptm/text", "chinese_ptm/modeling", "chinese_ptm/runtime"]
    result = subprocess.run([mypy, *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
