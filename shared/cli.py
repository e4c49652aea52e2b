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

import jsonschema
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from shared import report as report_module
from shared.config import ConfigError, Settings
from shared.service.reconciler import Application
from shared.service.results import RunReport
from shared.service.sweep import Sweeper

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
    sweep = commands.add_parser("sweep", help="judge every connection, repair drift, clean orphans, write a report")
    sweep.add_argument("--dry-run", action="store_true", help="judge and report only; change nothing")
    sweep.add_argument("--report", type=Path, help="write the report here: .json or .html")
    render_report = commands.add_parser("report", help="render a saved JSON sweep report as an HTML page")
    render_report.add_argument("json_report", type=Path, help="a report written by `sweep --report x.json`")
    render_report.add_argument("html_page", type=Path, help="where to write the HTML page")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.command == "report":  # offline: needs no settings and no cloud
        return render_saved_report(args.json_report, args.html_page)
    try:
        app = Application(Settings.from_env())
    except ConfigError as error:
        print(f"sc-autopilot: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "sweep":
        return run_sweep(app, args)
    if args.command == "handle-event":
        # bytes: a file that is not UTF-8 is an undecodable event, reported as ignored, not a traceback
        payload = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        report = app.handle_events(payload)
    elif args.command == "plan":
        report = app.plan()
    else:
        report = app.apply(dry_run=True if args.dry_run else None)
    render(report, args.output, Console())
    if not report.ok:
        return EXIT_FAILED
    return EXIT_DEFERRED if report.deferred else EXIT_OK


def render_saved_report(source: Path, target: Path) -> int:
    try:
        document = json.loads(source.read_text())
        jsonschema.validate(document, report_module.schema())
    except (OSError, ValueError, jsonschema.ValidationError) as error:
        print(f"sc-autopilot: {source} is not a sweep report: {str(error).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    target.write_text(report_module.to_html(document))
    print(target)
    return EXIT_OK


def run_sweep(app: Application, args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("sweeping clusters", total=None)
        result = Sweeper(app).run(
            dry_run=True if args.dry_run else None, progress=lambda cluster: progress.advance(task)
        )
    document = report_module.to_json(result)
    if args.report:
        text = report_module.to_html(document) if args.report.suffix == ".html" else json.dumps(document, indent=2)
        args.report.write_text(text)
    if args.output == "json":
        Console().print_json(json.dumps(document))
    else:
        summary = document["summary"]
        verdicts = ", ".join(f"{k} {v}" for k, v in summary["verdicts"].items())
        Console().print(
            f"{summary['connections']} connection(s) on {summary['clusters']} cluster(s): {verdicts}; "
            f"{summary['repaired']} repaired, {summary['orphans']} orphan(s), {summary['changes']} change(s)"
            + (f"\nreport: {args.report}" if args.report else "")
        )
    return EXIT_FAILED if document["summary"]["verdicts"]["Error"] else EXIT_OK


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
