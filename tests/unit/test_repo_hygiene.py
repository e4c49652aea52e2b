"""What a first-time user meets besides the code: `make demo` installs only what it uses, the local cloud's settings
file is never committed, and the docs name only things the product makes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.core.ids import ResourceRef
from shared.core.naming import linker_name, secret_name

ROOT = Path(__file__).resolve().parents[2]
DEMO_RG = "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg-shop/providers"
DEMO_TARGETS = [
    f"{DEMO_RG}/Microsoft.Sql/servers/sql-shop/databases/orders",
    f"{DEMO_RG}/Microsoft.CognitiveServices/accounts/oai-shop",
]


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_make_demo_installs_only_the_venv():
    """`make -n -B demo`: what a fresh clone's `make demo` would run (every target remade), printed, not run."""
    dry_run = subprocess.run(["make", "-n", "-B", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "-m demo" in dry_run.stdout and "requirements-dev.txt" in dry_run.stdout
    for unused in ("checkov", "npm", "azure-cli", "chromium"):
        assert unused not in dry_run.stdout, f"make demo installs {unused}, which it never uses"


def test_the_local_cloud_settings_file_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".local-cloud.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_the_docs_name_only_secrets_the_product_makes():
    made = {secret_name(linker_name(ResourceRef.parse(t), "shop")) for t in DEMO_TARGETS}
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for name in re.findall(r"\bsc-scap[a-z0-9]+-secret\b", page.read_text()):
            assert name in made, f"{page.name} shows {name}, a secret name the product never makes"


def test_the_docs_do_not_hedge_on_pages_that_exist():
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for link in re.findall(r"(docs/[\w.-]+\.md), when present", page.read_text()):
            pytest.fail(f"{page.name} says {link} may not exist")
