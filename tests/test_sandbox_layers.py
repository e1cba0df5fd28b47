"""The sandbox's modules: one-way imports, and none of the planner, backends, CLI or access."""

from __future__ import annotations

import ast
from pathlib import Path

import stagecfg.sandbox

SANDBOX = Path(stagecfg.sandbox.__file__).parent
FORBIDDEN = ("stagecfg.plan", "stagecfg.backends", "stagecfg.cli", "stagecfg.access")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from stagecfg.sandbox import x`` counts as ``...x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "stagecfg.sandbox":
                found.update(f"stagecfg.sandbox.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {p.stem: _imports(p) for p in SANDBOX.glob("*.py") if p.stem != "__init__"}
    return {
        name: {m.rsplit(".", 1)[1] for m in deps if m.startswith("stagecfg.sandbox.")} - {name}
        for name, deps in modules.items()
    }


def test_sandbox_imports_no_planner_backend_cli_or_access() -> None:
    for path in SANDBOX.glob("*.py"):
        bad = [m for m in _imports(path) if m.startswith(FORBIDDEN)]
        assert not bad, f"{path.name} imports {bad}"


def test_sandbox_modules_import_one_way() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dep in sorted(graph.get(name, set())):
            visit(dep, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
    assert "engine" in graph and not any("engine" in deps for deps in graph.values())
