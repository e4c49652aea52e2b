"""The emulator's services are built from the collaborators they need: no module graph cycle, no service
that reaches for the whole Cloud (issue 10, item 6)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "emulator"
# Only the composition root's users may import it: the scenario loader fills a Cloud, runtime serves one.
CLOUD_IMPORTERS = {"emulator.scenario", "emulator.runtime"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every emulator module this file imports, TYPE_CHECKING blocks included (a cycle there is still a cycle)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
            names |= submodules if len(submodules) == len(node.names) else {node.module}
    return {name for name in names if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_the_emulator_module_graph_has_no_cycle() -> None:
    graph = _graph()
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target] if target in trail else [node, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_only_the_composition_root_knows_the_cloud() -> None:
    graph = _graph()
    importers = {name for name, targets in graph.items() if "emulator.cloud" in targets}
    assert importers <= CLOUD_IMPORTERS, importers - CLOUD_IMPORTERS


def test_each_emulator_module_imports_on_its_own() -> None:
    """In a fresh interpreter, each module first, alone: an import that only works in some order fails here."""
    script = (
        "import importlib, sys\n"
        f"for name in {sorted(_modules())!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'emulator' or m.startswith('emulator.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
