"""The library's shape (ARCHITECTURE.md): packages with one job, data flowing one way, small modules,
thin notebooks. Measured from the source itself, so a change that breaks a rule fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fer_lib"
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
MAX_NOTEBOOK_CODE_LINES = 40


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(node: ast.AST) -> list[str]:
    """fer_lib modules an import statement names (a `from pkg import mod` names the submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("fer_lib")]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("fer_lib"):
        return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names]
    return []


def _graph(level) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            for target in _imported(node):
                a, b = level(name), level(target)
                if a != b:
                    graph.setdefault(a, set()).add(b)
    return graph


def _package(module: str) -> str:
    """fer_lib.engine.loop -> fer_lib.engine; a top-level module is its own room."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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

    for v in list(graph):
        if v not in index:
            visit(v)
    return out




def test_no_import_cycle_between_modules():
    assert _cycles(_graph(lambda m: m)) == []


def test_no_import_cycle_between_packages():
    assert _cycles(_graph(_package)) == []


def test_fer_lib_imports_are_at_module_top():
    local = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                local += [f"{name}.{node.name}: {t}" for sub in ast.walk(node) for t in _imported(sub)]
    assert local == []


def test_modules_and_functions_are_small():
    big = [f"{name}: {len(p.read_text().splitlines())} lines" for name, p in MODULES.items()
           if len(p.read_text().splitlines()) > MAX_MODULE_LINES]
    long = [f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines" for name, p in MODULES.items()
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert big == [] and long == []


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_only_call_the_library(notebook):
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    code = [line for c in cells for line in c.source.splitlines() if line.strip() and not line.strip().startswith("#")]
    defs = [line for line in code if line.lstrip().startswith(("def ", "class ", "lambda "))]
    assert "parameters" in cells[0].metadata.get("tags", []), "the first code cell is the parameters cell"
    assert defs == [], f"{notebook.name} defines {defs}: move it into fer_lib"
    assert len(code) <= MAX_NOTEBOOK_CODE_LINES, f"{notebook.name}: {len(code)} code lines"
