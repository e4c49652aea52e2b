"""docs/tag-contract.md's per-target tables are the catalogue's, rendered: they cannot drift from what the code does.
Regenerate with `python -m tests.unit.test_docs_targets` after changing shared/core/catalogue.py."""

from __future__ import annotations

from pathlib import Path

from shared.core import catalogue
from shared.core.catalogue import ANY_CLIENT, SecretSource
from shared.core.model import AuthKind

DOC = Path(__file__).resolve().parents[2] / "docs" / "tag-contract.md"
BEGIN, END = "<!-- catalogue:begin (generated from shared/core/catalogue.py) -->", "<!-- catalogue:end -->"
SOURCE = {
    SecretSource.FETCHED: "Service Connector reads the target's keys with the app's rights",
    SecretSource.USER: "the user: `sc-user` + `sc-password` (a Key Vault secret URL)",
}


def _keys(keys: tuple[str, ...]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def render() -> str:
    out = [BEGIN]
    for entry in catalogue.ENTRIES:
        out += ["", f"### {entry.title} (`{entry.kind.value}`)", ""]
        out += ["| | |", "| --- | --- |"]
        selected = f" with `kind`/API {', '.join(sorted(entry.account_kinds))}" if entry.account_kinds else ""
        out.append(f"| Tag this resource | `{entry.tagged_type}`{selected} |")
        parts = " (`{0}`, `{1}`: the `/` parts of `sc-database`)" if entry.database else ""
        out.append(f"| Service Connector target id | `<tagged id>{entry.suffix}`{parts} |")
        if entry.service:
            out.append(f"| `sc-service` | `{entry.service}` (default `{catalogue.STORAGE_SERVICES[0]}`) |")
        if entry.database:
            default = f"default `{entry.database.default}`" if entry.database.default else "required"
            out.append(f"| `sc-database` | the {entry.database.what} ({default}) |")
        out.append(f"| `sc-auth` (first = default) | {', '.join(f'`{a.value}`' for a in entry.auth)} |")
        if entry.secret_source:
            out.append(f"| Secret comes from | {SOURCE[entry.secret_source]} |")
        out.append(f"| `sc-client-type` | {', '.join(entry.client_types)} (default `{entry.default_client_type}`) |")
        for auth in entry.auth:
            for client, keys in entry.keys[auth].items():
                who = "other client types" if client == ANY_CLIENT else f"`{client}`"
                out.append(f"| Secret keys, `{auth.value}`, {who} | {_keys(keys)} |")
        roles = ", ".join(f"{r.name} (`{r.guid}`)" for r in entry.roles) or "none"
        if AuthKind.WORKLOAD_IDENTITY in entry.auth or AuthKind.CSI in entry.auth:
            out.append(f"| Role Service Connector assigns | {roles} |")
        out.append(f"| The app's rights on it | {_keys(entry.app_actions)} |")
        out.append(f"| Event Grid operations | {_keys(entry.operations)} |")
        out.append(f"| Documented in | MicrosoftDocs azure-docs service-connector `{entry.documented}` |")
    out += ["", END]
    return "\n".join(out)


def test_the_per_target_tables_are_the_catalogue():
    text = DOC.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert text[text.index(BEGIN) : text.index(END) + len(END)] == render(), (
        "docs/tag-contract.md is stale: run python -m tests.unit.test_docs_targets"
    )


if __name__ == "__main__":
    text = DOC.read_text()
    DOC.write_text(text[: text.index(BEGIN)] + render() + text[text.index(END) + len(END) :])
