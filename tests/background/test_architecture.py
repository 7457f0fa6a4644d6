"""How the packages connect: no import cycle, detect and infer independent, no library
module importing the CLI, examples on public API only (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every gbi module named by an import anywhere in the file (also inside functions)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m == "gbi" or m.startswith("gbi.")}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in (SRC / "gbi").rglob("*.py")}
    return {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_detect_and_infer_do_not_import_each_other(graph: dict[str, set[str]]) -> None:
    for source, other in (("gbi.infer", "gbi.detect"), ("gbi.detect", "gbi.infer")):
        bad = {
            m: sorted(t for t in targets if t == other or t.startswith(other + "."))
            for m, targets in graph.items()
            if m == source or m.startswith(source + ".")
        }
        assert {m: t for m, t in bad.items() if t} == {}


def test_no_library_module_imports_the_cli(graph: dict[str, set[str]]) -> None:
    library = {m for m in graph if not m.startswith("gbi.cli") and m != "gbi.__main__"}
    assert {m: graph[m] for m in library if any(t.startswith("gbi.cli") for t in graph[m])} == {}


def test_workspace_amplification_does_not_need_torch(graph: dict[str, set[str]]) -> None:
    assert not any(t.startswith("gbi.flows") for t in graph["gbi.workspace.amplification"])


@pytest.mark.parametrize("script", ["gbi_injection_scan.py", "lhco_injection_scan.py"])
def test_examples_use_public_api(script: str) -> None:
    tree = ast.parse((ROOT / "examples" / script).read_text())
    private = [
        f"{node.module}.{a.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gbi")
        for a in node.names
        if a.name.startswith("_")
    ]
    assert private == []
    assert not any(m.startswith("gbi.cli") for m in _imports(ROOT / "examples" / script))
