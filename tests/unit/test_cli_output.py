"""Copyable fixes: tables never cut a fix or a name; every fix is printed whole below its table, one per line, a
multi-line fix (a manifest snippet) line for line, at 80 columns as at 160."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from shared.cli import output

SUB = "/subscriptions/c0ffee00-0000-4000-8000-00000000d370"
DB = f"{SUB}/resourceGroups/rg-shop/providers/Microsoft.Sql/servers/sql-shop/databases/orders"
CONSENT_FIX = (f'az keyvault secret set-attributes --vault-name kv-shop --name sql-orders-password --tags '
               f'"sc-targets={DB}"')  # fmt: skip
SNIPPET_FIX = (
    "commit this to the manifest in Git:\n  envFrom:\n    - secretRef: {name: sc-scapc5b76b668a1db7aborders-secret}"
)
LINKER = "scap_c5b76b668a1db7ab_orders_with_a_rather_long_name"


def render(width: int, draw) -> str:
    out = Console(file=io.StringIO(), width=width, no_color=True, highlight=False)
    draw(out)
    return out.file.getvalue()


def finding(code: str, fix: str, severity: str = "error") -> dict:
    return {"severity": severity, "code": code, "resource": DB, "tag": None, "message": "why it is so", "fix": fix}


@pytest.mark.parametrize("width", [80, 160])
def test_findings_print_every_fix_whole_below_the_table(width):
    findings = [finding("CONSENT_MISSING", CONSENT_FIX), finding("GITOPS_MANAGED", SNIPPET_FIX, "warning"),
                finding("CONSENT_MISSING", CONSENT_FIX)]  # fmt: skip
    text = render(width, lambda out: output.findings_table(findings, out))
    lines = text.splitlines()
    assert f"[1] {CONSENT_FIX}" in lines  # one line, whole, printed once for both rows
    assert text.count(CONSENT_FIX) == 1 and text.count("fix [1]") == 2 and "fix [2]" in text
    block = lines[lines.index("[2]") + 1 : lines.index("[2]") + 4]
    assert block == SNIPPET_FIX.splitlines()  # the snippet line for line, indentation kept
    assert all("CONSENT_MISSING" in line for line in lines if "fix [1]" in line)  # codes never broken mid-word


def test_sweep_table_keeps_names_whole_and_numbers_fixes_across_tables():
    document = {
        "summary": {"verdicts": {"Error": 1, "Drifted": 0, "Pending": 0, "Orphaned": 0, "Compliant": 0},
                    "connections": 1, "clusters": 1, "repaired": 0, "orphanedObjects": 0, "changes": 0},
        "connections": [{"verdict": "Error", "repaired": False, "cluster": f"{SUB}/x/aks-shop", "connection": LINKER,
                         "reasons": [{"code": "WORKLOAD_NOT_FOUND", "message": "no api", "fix": "create it"}]}],
        "findings": [finding("CONSENT_MISSING", CONSENT_FIX)],
    }  # fmt: skip
    lines = render(80, lambda out: output.sweep_table(document, None, out)).splitlines()
    assert any(LINKER in line for line in lines)  # the connection's name on one line, whole
    assert "Error 2 (1 connection(s), 1 finding(s))" in lines[0]  # an error finding needs a person too
    assert "[1] create it" in lines and f"[2] {CONSENT_FIX}" in lines  # numbered on across both tables
