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

from shared.core.verdicts import WORST_FIRST

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
    table.add_column("cluster", no_wrap=True, overflow="fold")
    table.add_column("action", ratio=3)
    table.add_column("outcome", ratio=1)
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


def findings_table(findings: list[dict], out: Console) -> None:
    if not findings:
        return
    table = Table(title="Findings")
    width = max(len(f["code"]) for f in findings)
    table.add_column("code", no_wrap=True, min_width=width)  # a code is read and searched whole
    table.add_column("resource", overflow="fold", max_width=24)
    table.add_column("message and fix")
    severity = {"error": "red", "warning": "yellow", "info": ""}
    for f in sorted(findings, key=lambda f: ("error", "warning", "info").index(f["severity"])):
        resource = f["resource"].rsplit("/", 1)[-1]
        table.add_row(Text(f["code"], severity[f["severity"]]), resource, f"{f['message']}\nfix: {f['fix']}")
    out.print(table)


def sweep_table(document: dict, report_path: str | None, out: Console) -> None:
    """Worst first; Compliant connections are counted, not listed."""
    summary = document["summary"]
    counts = Text()
    for status in WORST_FIRST:
        counts.append(f"{status.value} {summary['verdicts'][status.value]}", VERDICT_STYLES[status.value])
        counts.append("  ")
    out.print(counts)
    trouble = sorted(
        (c for c in document["connections"] if c["verdict"] != "Compliant"),
        key=lambda c: (RANK[c["verdict"]], c["cluster"].lower(), c["connection"]),
    )
    if trouble:
        table = Table(show_lines=True)
        table.add_column("verdict", no_wrap=True)
        table.add_column("cluster / connection", overflow="fold", max_width=30)
        table.add_column("why and fix")
        for c in trouble:
            reasons = "\n".join(f"{r['code']}: {r['message']}\n  fix: {r['fix']}" for r in c["reasons"])
            verdict = c["verdict"] + (" (repaired)" if c["repaired"] else "")
            table.add_row(
                Text(verdict, VERDICT_STYLES[c["verdict"]]), f"{c['cluster'].rsplit('/', 1)[-1]}\n{c['connection']}",
                reasons,
            )  # fmt: skip
        out.print(table)
    findings_table(document["findings"], out)
    out.print(
        f"{summary['connections']} connection(s) on {summary['clusters']} cluster(s); {summary['repaired']} repaired, "
        f"{summary['orphanedObjects']} orphaned object(s), {summary['changes']} change(s)"
        + (f"\nreport: {report_path}" if report_path else ""),
        markup=False,
    )


def error(message: str) -> None:
    print(f"sc-autopilot: {message}", file=sys.stderr)
