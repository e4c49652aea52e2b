"""`sc-autopilot`: the same reconcile the Functions run, by hand. Against Azure with `az login`
(DefaultAzureCredential), or against the local cloud with its env file sourced.

Exit codes: 0 all good; 1 something failed; 2 bad usage or settings; 3 work was deferred (cluster busy).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shared.app import Application, RunReport
from shared.config import ConfigError, Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEFERRED = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sc-autopilot",
        description="Wire AKS workloads to Azure SQL and Azure OpenAI through Service Connector, from tags.",
        epilog="Settings come from the environment (SC_SUBSCRIPTIONS, ...); see README 'Settings'.",
    )
    parser.add_argument("--output", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every action")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    event = commands.add_parser("handle-event", help="reconcile what one event (or an array) names, like the function")
    event.add_argument("file", help="an Event Grid or CloudEvents JSON file, or - for standard input")
    commands.add_parser("plan", help="show what would change for every tagged cluster; writes nothing")
    apply = commands.add_parser("apply", help="reconcile every tagged cluster in the managed subscriptions")
    apply.add_argument("--dry-run", action="store_true", help="plan only, like SC_DRY_RUN=true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        app = Application(Settings.from_env())
    except ConfigError as error:
        print(f"sc-autopilot: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "handle-event":
        payload = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        report = app.handle_events(payload)
    elif args.command == "plan":
        report = app.plan()
    else:
        report = app.apply(dry_run=True if args.dry_run else None)
    render(report, args.output, Console())
    if not report.ok:
        return EXIT_FAILED
    return EXIT_DEFERRED if report.deferred else EXIT_OK


def render(report: RunReport, output: str, console: Console) -> None:
    if output == "json":
        console.print_json(json.dumps(report.to_dict()))
        return
    table = Table(title="Plan and outcome per cluster", show_lines=True)
    for column in ("cluster", "action", "outcome"):
        table.add_column(column)
    for run in report.runs:
        outcomes = {o.action.describe(): f"{o.status} {o.detail}".strip() for o in run.outcomes}
        lines = [line for plan in run.plans for line in plan.lines()] or ["(nothing to change)"]
        for line in dict.fromkeys(lines):
            table.add_row(run.cluster.rsplit("/", 1)[-1], line, outcomes.get(line, "planned"))
    console.print(table)
    if report.findings:
        findings = Table(title="Findings")
        for column in ("severity", "code", "resource", "message", "fix"):
            findings.add_column(column, overflow="fold")
        for f in report.findings:
            findings.add_row(f.severity.value, f.code, f.resource_id.rsplit("/", 1)[-1], f.message, f.fix)
        console.print(findings)
    console.print(report.summary())


if __name__ == "__main__":
    sys.exit(main())
