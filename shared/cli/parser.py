"""The command line: az/kubectl habits. Global options are accepted before or after the subcommand, the filters of
a run are az's (--subscription, --resource-group) plus --cluster, and every subcommand has a description.

argparse (+ argcomplete for completion) rather than click/typer: the standard library already gives subcommands,
repeated options and `--help`; argcomplete completes any argparse parser in bash/zsh/fish with one line, so the CLI
keeps no second framework and its parser stays testable as plain data."""

from __future__ import annotations

import argparse
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

OUTPUTS = ("table", "json", "yaml")

EXIT_CODES = """exit codes:
  0  nothing failed
  1  something failed or could not be read, an endpoint refused, or an error-severity finding (a broken tag, a
     missing workload, a consent not given: plan, apply, handle-event); a saved plan no longer matches
  2  usage or settings error, no Azure credential, a filter or an event file that matches nothing
  3  apply, handle-event: work deferred (a cluster is busy), retried later
  4  sweep: drift found (a connection Drifted or Orphaned, repaired or not)
  plan --detailed-exitcode: 0 no changes, 2 changes pending, 1 any error"""


def _version() -> str:
    try:
        return version("sc-autopilot")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a count (0, 1, 2, ...)")
    return int(value)


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """On the main parser with defaults, on every subcommand without (so `plan -o json` and `-o json plan` agree)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument(
        "-o", "--output", choices=OUTPUTS, default=default("table"), help="output format (default: table)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default(False),
        help="our structured log lines (plan, action, outcome) on stderr",
    )  # fmt: skip
    parser.add_argument(
        "--debug", action="store_true", default=default(False),
        help="everything --verbose shows plus the SDKs' HTTP logs",
    )  # fmt: skip


def _filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which clusters (repeat or comma-separate; default: every tagged cluster)")
    group.add_argument("--subscription", action="append", default=[], metavar="ID", help="one of SC_SUBSCRIPTIONS")
    group.add_argument("-g", "--resource-group", action="append", default=[], metavar="NAME")
    group.add_argument("--cluster", action="append", default=[], metavar="NAME|ID", help="a cluster name or its id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sc-autopilot",
        description="Wire AKS workloads to storage, Key Vault, databases, messaging and AI services through Service "
        "Connector, from tags.",
        epilog=EXIT_CODES + "\n\nSettings come from the environment (SC_SUBSCRIPTIONS, ...): README 'Settings'.\n"
        "NO_COLOR=1 turns colours off. Shell completion (bash, zsh):\n"
        '  eval "$(register-python-argcomplete sc-autopilot)"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=summary, description=textwrap.fill(description, 78), epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        _global_options(sub, suppress=True)
        return sub

    event = command(
        "handle-event", "reconcile what one event (or an array) names, like the function",
        "Reconcile the clusters an Event Grid or CloudEvents event (or an array of them) concerns, exactly as the "
        "Functions app does.",
    )  # fmt: skip
    event.add_argument("file", help="a JSON file of events, or - for standard input")

    plan = command(
        "plan", "show every write apply would make; writes nothing",
        "Desired state (tags) against actual state for every cluster in scope: every write `apply` would make, "
        "including the workload patches that follow a linker still to be created (marked 'after linker').",
    )  # fmt: skip
    _filters(plan)
    plan.add_argument(
        "--detailed-exitcode", action="store_true",
        help="exit 0 when there is nothing to change, 2 when changes are pending, 1 on any error (as terraform)",
    )  # fmt: skip
    plan.add_argument("--out", type=Path, metavar="FILE", help="save the plan (JSON) for `apply --plan FILE`")

    apply = command(
        "apply", "reconcile every tagged cluster in scope",
        "Create and repair connections, wire and un-wire workloads, for every cluster in scope.",
    )  # fmt: skip
    _filters(apply)
    apply.add_argument("--dry-run", action="store_true", help="print the plan only, like SC_DRY_RUN=true")
    apply.add_argument(
        "--max-removals", type=_count, metavar="N",
        help="release removals held by SC_MAX_REMOVALS_PER_HOUR (REMOVALS_HELD): up to N go ahead in this run, "
        "logged and counted; read `plan` first",
    )  # fmt: skip
    apply.add_argument(
        "--plan", type=Path, metavar="FILE", dest="saved_plan",
        help="apply a plan saved by `plan --out` only if the estate still matches it; otherwise say what moved",
    )  # fmt: skip

    sweep = command(
        "sweep", "judge every connection, repair drift, clean orphans, write a report",
        "The compliance sweep: a verdict per connection (deeper than Service Connector's validate), drift "
        "repaired unless --dry-run, orphaned Service Connector objects marked or cleaned.",
    )  # fmt: skip
    _filters(sweep)
    sweep.add_argument("--dry-run", action="store_true", help="judge and report only; change nothing")
    sweep.add_argument("--report", type=Path, metavar="FILE", help="write the report here: .json or .html")

    watch = command(
        "watch", "reconcile each Event Grid event delivered to a local endpoint, as the Functions host does",
        "Listen where Event Grid delivers to the Functions host (http://HOST:PORT/runtime/webhooks/eventgrid), "
        "reconcile everything once, then each delivered event as it arrives, until Ctrl-C. The local cloud "
        "delivers there with `python -m emulator serve --deliver-events-to URL` (make emulator does).",
    )  # fmt: skip
    watch.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    watch.add_argument("--port", type=int, help="port to listen on (default: SC_WATCH_PORT, else 7071, the host's)")

    report = command(
        "report", "render a saved JSON sweep report as an HTML page (offline)",
        "Render a report written by `sweep --report x.json` as one self-contained HTML page; with --previous, "
        "earlier reports give each verdict a trend.",
    )  # fmt: skip
    report.add_argument("json_report", type=Path, help="a report written by `sweep --report x.json`")
    report.add_argument("html_page", type=Path, help="where to write the HTML page")
    report.add_argument(
        "--previous", type=Path, action="append", default=[], metavar="JSON",
        help="an earlier JSON report (repeat, oldest first) for the trend",
    )  # fmt: skip
    return parser
