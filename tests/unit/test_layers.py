"""The layers stay layers: the pure core imports nothing but the standard library and itself; adapters never
import services; the report renders results without loading any SDK; the emulator imports nothing of the product."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# I/O, the environment, processes and the network: none of it belongs in the planner's inputs or outputs.
IMPURE_STDLIB = {"os", "subprocess", "socket", "http", "urllib.request", "requests", "threading", "time", "logging"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("shared/core"), ids=lambda p: p.name)
def test_core_is_pure(path):
    stdlib = sys.stdlib_module_names
    for name in imports(path):
        top = name.split(".")[0]
        if top == "shared":
            assert name.startswith("shared.core"), f"{path.name} imports {name}: the core imports only the core"
        else:
            assert top in stdlib or top == "__future__", f"{path.name} imports {name}: no third-party code in the core"
            assert name not in IMPURE_STDLIB and top not in IMPURE_STDLIB, f"{path.name} imports {name}: no I/O"


def test_core_never_reads_the_environment():
    for path in modules("shared/core"):
        text = path.read_text()
        assert "os.environ" not in text and "getenv(" not in text, path.name


@pytest.mark.parametrize("path", modules("shared/adapters"), ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_never_import_services(path):
    for name in imports(path):
        assert not name.startswith(("shared.service", "shared.cli", "shared.container", "shared.report")), (
            f"{path.name} imports {name}"
        )


def test_only_config_reads_the_environment():
    readers = [
        p.relative_to(ROOT).as_posix()
        for p in modules("shared")
        if "os.environ" in p.read_text() or "getenv(" in p.read_text()
    ]
    assert readers == ["shared/config.py"], readers


def test_emulator_imports_nothing_of_the_product():
    for path in modules("emulator"):
        for name in imports(path):
            assert name.split(".")[0] not in ("shared", "functions"), f"{path} imports {name}"


def test_rendering_a_report_loads_no_sdk():
    """`sc-autopilot report` on a saved JSON must not pay for (or depend on) the Azure and Kubernetes SDKs."""
    code = (
        "import sys, shared.report; "
        "bad = sorted(m for m in sys.modules if m.startswith(('azure', 'kubernetes', 'urllib3'))); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_cited_fact_file_is_in_the_repository():
    """Code and docs cite FACTS.md (the verified field facts): it is docs/FACTS.md, not the handout outside the repo."""
    handout = "/".join(("shared", "reference"))  # spelled apart so this test does not cite it
    texts = [p.read_text() for p in [*modules("shared"), *modules("emulator"), *modules("tests")]]
    assert not [t for t in texts if handout in t]
    assert any("FACTS.md" in t for t in texts) and (ROOT / "docs" / "FACTS.md").read_text().count("## ") >= 10
