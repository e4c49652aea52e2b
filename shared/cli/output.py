"""What the CLI prints: tables for people (verdict colours, codes never broken mid-word), JSON or YAML for machines,
one camelCase document shape for both (ARM's casing)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from shared.core.verdicts import WORST_FIRST, Status

if TYPE_CHECKING:
    from shared.service.results import RunReport

VERDICT_STYLES = {"Error": "bold red", "Drifted": "yellow", "Pending": "cyan", "Orphaned": "magenta",
                  "Compliant": "green"}  # fmt: skip
STATUS_STYLES = {"failed": "red", "deferred": "cyan", "applied": "green", "planned": "yellow"}
RANK = {status.value: index for index, status in enumerate(WORST_FIRST)}


def console(stderr: bool = False) -> Console:
    """No number highlighting (colour carries meaning here); rich honours NO_COLOR and FORCE_COLOR itself."""
    return Console(stderr=stderr, highlight=False)


def dump(document: dict, output: str, out: Console) -> None:
    """Machine output goes out as it is: no wrapping, no colour."""
    if output == "yaml":
        out.file.write(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    else:
        out.file.write(json.dumps(document, indent=2) + "\n")


def progress(out: Console) -> Progress:
    """'N of M clusters' on stderr, only on a terminal (a log file gets no redraws)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} of {task.total} clusters"),
        TimeElapsedColumn(), console=out, transient=True, disable=not out.is_terminal,
    )  # fmt: skip


def run_table(report: RunReport, dry_run: bool, out: Console) -> None:
    table = Table(title="Plan" if dry_run else "Plan and outcome per cluster", show_lines=True)
    _name_column(table, "cluster", [run.cluster.rsplit("/", 1)[-1] for run in report.runs])
    table.add_column("action", ratio=3, overflow="fold")  # a long id is folded, never cut
    table.add_column("outcome", ratio=1, overflow="fold")
    for run in report.runs:
        outcomes = {o.action.describe(): o for o in run.outcomes}
        lines = [line for plan in run.plans for line in plan.lines()] or ["(nothing to change)"]
        name = run.cluster.rsplit("/", 1)[-1]
        for line in run.moved:
            table.add_row(name, line, Text("moved since the saved plan", "red"))
        for line in dict.fromkeys(lines):
            outcome = outcomes.get(line)
            status = outcome.status if outcome else ("planned" if line != "(nothing to change)" else "")
            detail = f"{status} {outcome.detail}".strip() if outcome else status
            table.add_row(name, line, Text(detail, STATUS_STYLES.get(status, "")))
    out.print(table)
    findings_table([f.to_dict() for f in report.findings], out)
    planned = len(report.planned)
    summary = report.summary()
    out.print(f"{planned} planned change(s); " + summary if dry_run else summary)


class Fixes:
    """Fixes are meant to be copied: a table cell would wrap or cut them, so a table shows `fix [n]` and the fixes
    are printed whole below it, one per line (a multi-line fix, e.g. a manifest snippet, line for line). The same
    fix given for many rows is printed once."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._printed = 0

    def ref(self, fix: str) -> str:
        return f"fix [{self._numbers.setdefault(fix, len(self._numbers) + 1)}]"

    def print(self, out: Console) -> None:
        """The fixes referenced since the last print (numbers run on across the tables of one output)."""
        new = [(fix, number) for fix, number in self._numbers.items() if number > self._printed]
        if not new:
            return
        self._printed = len(self._numbers)
        whole = {"soft_wrap": True, "markup": False, "highlight": False}  # the terminal wraps; nothing is cut
        out.print("fixes:", **whole)
        for fix, number in new:
            first, *rest = fix.splitlines() or [""]
            if rest:
                out.print(f"[{number}]", **whole)
                for line in (first, *rest):
                    out.print(line, **whole)
            else:
                out.print(f"[{number}] {first}", **whole)


def _name_column(table: Table, header: str, names: list[str], **options) -> None:
    """A name is read, searched and copied whole: never wrapped, as wide as the longest."""
    table.add_column(header, no_wrap=True, min_width=max((len(n) for n in names), default=len(header)), **options)


def findings_table(findings: list[dict], out: Console, fixes: Fixes | None = None) -> None:
    if not findings:
        return
    fixes = fixes or Fixes()
    table = Table(title="Findings")
    ordered = sorted(findings, key=lambda f: ("error", "warning", "info").index(f["severity"]))
    resources = [f["resource"].rsplit("/", 1)[-1] for f in ordered]
    _name_column(table, "code", [f["code"] for f in ordered])
    _name_column(table, "resource", resources)
    table.add_column("message")
    severity = {"error": "red", "warning": "yellow", "info": ""}
    for f, resource in zip(ordered, resources, strict=True):
        fix = f["fix"] + (f"\n{f['snippet']}" if f.get("snippet") else "")  # a snippet is printed whole, after it
        message = Text(f["message"]).append(f"  {fixes.ref(fix)}", "bold") if fix else Text(f["message"])
        table.add_row(Text(f["code"], severity[f["severity"]]), resource, message)
    out.print(table)
    fixes.print(out)


def sweep_table(document: dict, report_path: str | None, out: Console) -> None:
    """Worst first; Compliant connections are counted, not listed."""
    summary = document["summary"]
    counts = Text()
    errors = sum(f["severity"] == "error" for f in document["findings"])  # they need a person too: counted
    for status in WORST_FIRST:
        count = summary["verdicts"][status.value]
        label = f"{status.value} {count}"
        if status is Status.ERROR and errors:
            label = f"{status.value} {count + errors} ({count} connection(s), {errors} finding(s))"
        counts.append(label, VERDICT_STYLES[status.value])
        counts.append("  ")
    out.print(counts)
    trouble = sorted(
        (c for c in document["connections"] if c["verdict"] != "Compliant"),
        key=lambda c: (RANK[c["verdict"]], c["cluster"].lower(), c["connection"]),
    )
    fixes = Fixes()
    if trouble:
        table = Table(show_lines=True)
        table.add_column("verdict", no_wrap=True)
        names = [f"{c['cluster'].rsplit('/', 1)[-1]}\n{c['connection']}" for c in trouble]
        _name_column(table, "cluster / connection", [line for name in names for line in name.splitlines()])
        table.add_column("why")
        for c, name in zip(trouble, names, strict=True):
            reasons = "\n".join(f"{r['code']}: {r['message']}  {fixes.ref(r['fix'])}" for r in c["reasons"])
            verdict = c["verdict"] + (" (repaired)" if c["repaired"] else "")
            table.add_row(Text(verdict, VERDICT_STYLES[c["verdict"]]), name, reasons)
        out.print(table)
        fixes.print(out)
    findings_table(document["findings"], out, fixes)
    out.print(
        f"{summary['connections']} connection(s) on {summary['clusters']} cluster(s); {summary['repaired']} repaired, "
        f"{summary['orphanedObjects']} orphaned object(s), {summary['changes']} change(s)"
        + (f"\nreport: {report_path}" if report_path else ""),
        markup=False,
    )


def error(message: str) -> None:
    print(f"sc-autopilot: {message}", file=sys.stderr)
