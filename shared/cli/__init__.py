# PYTHON_ARGCOMPLETE_OK
"""`sc-autopilot`: the same reconcile the Functions run, by hand. Against Azure with `az login`
(DefaultAzureCredential), or against the local cloud with its env file sourced. Exit codes: see parser.EXIT_CODES.

Every common mistake (settings, a missing file, an unknown subscription, an unwritable report path) is a one-line
message and exit 2 before any work starts, never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import argcomplete

from shared.adapters.azure.preflight import NoCredentialError, UnreachableError
from shared.adapters.logs import LOGGER_NAME
from shared.cli import guards, output
from shared.cli.guards import UsageError
from shared.cli.parser import build_parser
from shared.config import ConfigError, Settings
from shared.core.scope import ClusterScope

if TYPE_CHECKING:  # the service layer and the report load every SDK: imported where used, after the preflight
    from shared.container import Application
    from shared.service.results import ClusterResult, RunReport

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEFERRED, EXIT_DRIFT = 0, 1, 2, 3, 4
EXIT_CHANGES_PENDING = 2  # plan --detailed-exitcode only, as terraform's
SAVED_PLAN_KIND = "sc-autopilot/plan"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    argcomplete.autocomplete(parser)
    detailed = "--detailed-exitcode" in argv
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # usage error (2), --help or --version (0)
        code = int(stop.code or 0)
        return EXIT_FAILED if code and detailed else code
    _logging(args)
    try:
        return _run(args)
    except (UsageError, ConfigError, NoCredentialError) as error:
        output.error(str(error))
        return EXIT_FAILED if detailed else EXIT_USAGE
    except UnreachableError as error:  # the endpoint refused at the first call: one line, not a minute of retries
        output.error(str(error))
        return EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    if args.command == "report":  # offline: needs no settings and no cloud
        return render_saved_report(args.json_report, args.html_page, args.previous)
    settings = Settings.from_env()
    if (
        args.command != "watch"
    ):  # a run by hand: an API server that refuses is said at once (watch retries, as the host)
        settings = dataclasses.replace(settings, retry_refused=False)
    guards.report_path(getattr(args, "report", None))
    _check_writable(getattr(args, "report", None) or getattr(args, "out", None))
    payload = guards.events(_read_events(args.file), args.file) if args.command == "handle-event" else b""
    credential = guards.credential(settings, args)
    scope = _scope(args, settings, credential)
    from shared.container import Application

    app = Application(settings, credential)
    if args.command == "sweep":
        return run_sweep(app, args, scope)
    if args.command == "handle-event":
        return _finish(app.events.handle(payload), args, dry_run=settings.dry_run, local_budget=not app.runs.app_wide)
    if args.command == "watch":
        return run_watch(app, args, settings)
    if args.command == "plan":
        return run_plan(app, args, scope)
    if args.saved_plan:
        return apply_saved_plan(app, args)
    dry_run = True if args.dry_run else None
    report = _with_progress(lambda p: app.applier.apply(dry_run, scope, p, release_removals=args.max_removals))
    guards.check_matched(scope, len(report.runs), bool(report.failures), app)
    return _finish(report, args, dry_run=dry_run or settings.dry_run, local_budget=not app.runs.app_wide)


def run_plan(app: Application, args: argparse.Namespace, scope: ClusterScope) -> int:
    report = _with_progress(lambda p: app.applier.plan(scope, p))
    guards.check_matched(scope, len(report.runs), bool(report.failures), app)
    if args.out:
        args.out.write_text(json.dumps(_saved_plan(report, scope), indent=2) + "\n")
    code = _finish(report, args, dry_run=True, local_budget=not app.runs.app_wide)
    if args.detailed_exitcode:
        return EXIT_FAILED if code == EXIT_FAILED else (EXIT_CHANGES_PENDING if report.planned else EXIT_OK)
    return code


def apply_saved_plan(app: Application, args: argparse.Namespace) -> int:
    """Apply only what was reviewed: a fresh plan must list exactly the saved actions, cluster by cluster."""
    from shared.core.plan import moved

    if args.subscription or args.resource_group or args.cluster or args.dry_run:
        raise UsageError("--plan carries its own scope: no --subscription, --resource-group, --cluster or --dry-run")
    saved = _load_saved_plan(args.saved_plan)
    scope = ClusterScope.of(**saved["scope"])
    expected = {c["cluster"].lower(): tuple(c["actions"]) for c in saved["clusters"]}
    fresh = app.applier.plan(scope)
    differences = moved(expected, {run.cluster.lower(): tuple(_first_plan(run)) for run in fresh.runs})
    if differences:
        output.error(f"the estate moved since {args.saved_plan} was saved; nothing was applied. Plan again:")
        for line in differences:
            print(f"  {line}", file=sys.stderr)
        return EXIT_FAILED
    report = _with_progress(
        lambda p: app.applier.apply(False, scope, p, expected=expected, release_removals=args.max_removals)
    )
    return _finish(report, args, dry_run=False, local_budget=not app.runs.app_wide)


def _finish(report: RunReport, args: argparse.Namespace, dry_run: bool, local_budget: bool = False) -> int:
    """`local_budget`: no AzureWebJobsStorage, so the removal budget is this process's: said once, when removals
    were at stake."""
    guards.check_reachable(report)
    out = output.console()
    if local_budget and report.removals_at_stake:
        output.error(
            "note: AzureWebJobsStorage is not set, so SC_MAX_REMOVALS_PER_HOUR counted this process's removals only, "
            "not the Function App's (docs/operations.md, 'Budgets')"
        )
    if args.output == "table":
        output.run_table(report, dry_run, out)
    else:
        output.dump(report.to_dict(), args.output, out)
    if not report.ok or guards.has_errors(report):
        return EXIT_FAILED
    return EXIT_DEFERRED if report.deferred else EXIT_OK


def run_sweep(app: Application, args: argparse.Namespace, scope: ClusterScope) -> int:
    from shared import report as report_module

    dry_run = True if args.dry_run else None
    result = _with_progress(lambda p: app.sweeper.run(dry_run=dry_run, progress=p, scope=scope))
    guards.check_matched(scope, len(result.clusters), bool(result.failures), app)
    document = report_module.to_json(result)
    if args.report:
        html = args.report.suffix.lower() == ".html"
        args.report.write_text(report_module.to_html(document) if html else json.dumps(document, indent=2))
    out = output.console()
    if args.output == "table":
        output.sweep_table(document, str(args.report) if args.report else None, out)
    else:
        output.dump(document, args.output, out)
    verdicts = document["summary"]["verdicts"]
    if not result.ok or verdicts["Error"]:
        return EXIT_FAILED
    return EXIT_DRIFT if verdicts["Drifted"] or verdicts["Orphaned"] else EXIT_OK


def run_watch(app: Application, args: argparse.Namespace, settings: Settings) -> int:
    from shared.cli.watch import Watch

    out = output.console()

    def show(title: str, report: RunReport) -> None:
        out.rule(title)
        if args.output == "table":
            output.run_table(report, settings.dry_run, out)
        else:
            output.dump(report.to_dict(), args.output, out)
        out.file.flush()  # a watch is read as it goes, often through a pipe or a log file

    try:
        watch = Watch(app, show, args.host, args.port or settings.watch_port)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port or settings.watch_port}: {error.strerror}") from None
    print(f"watching: Event Grid deliveries to {watch.url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        watch.run(lambda: _with_progress(lambda p: app.applier.apply(None, ClusterScope(), p)))
    except KeyboardInterrupt:
        watch.stop()
    return EXIT_OK


def render_saved_report(source: Path, target: Path, previous: list[Path]) -> int:
    from shared import report as report_module

    guards.html_page(target)
    document = _load_report(source)
    earlier = [_load_earlier(path) for path in previous]
    _check_writable(target)
    target.write_text(report_module.to_html(document, previous=earlier))
    print(target)
    return EXIT_OK


# -- checks made before any work ---------------------------------------------------------------------------
def _scope(args: argparse.Namespace, settings: Settings, credential) -> ClusterScope:
    if args.command not in ("plan", "apply", "sweep"):
        return ClusterScope()
    split = lambda values: [v.strip() for value in values for v in value.split(",") if v.strip()]  # noqa: E731
    subscriptions = guards.subscriptions(split(args.subscription), settings, credential)
    return ClusterScope.of(subscriptions, split(args.resource_group), split(args.cluster))


def _check_writable(path: Path | None) -> None:
    """Fail before a sweep of many minutes, not after it."""
    if path is None:
        return
    parent = path.resolve().parent
    if path.is_dir():
        raise UsageError(f"{path} is a directory: give a file name")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: permission denied")


def _read_events(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:  # bytes: a file that is not UTF-8 is an undecodable event, reported as ignored, not a traceback
        return Path(name).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read the event file {name}: {error.strerror or error}") from None


def _load_report(path: Path) -> dict:
    import jsonschema

    from shared import report as report_module

    try:
        document = json.loads(path.read_text())
        jsonschema.validate(document, report_module.schema())
    except (OSError, ValueError, jsonschema.ValidationError) as error:
        raise UsageError(f"{path} is not a sweep report: {str(error).splitlines()[0]}") from None
    return document


def _load_earlier(path: Path) -> dict:
    """An earlier report, of any schema version: the trend reads only its time and verdict counts."""
    try:
        document = json.loads(path.read_text())
        counts = document["summary"]["verdicts"]
        if not isinstance(document["generatedAt"], str) or not all(isinstance(n, int) for n in counts.values()):
            raise ValueError("no verdict counts")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{path} is not a sweep report: {error}") from None
    return document


def _saved_plan(report: RunReport, scope: ClusterScope) -> dict:
    return {
        "kind": SAVED_PLAN_KIND,
        "schemaVersion": 1,
        "scope": {
            "subscriptions": sorted(scope.subscriptions),
            "resourceGroups": sorted(scope.resource_groups),
            "clusters": sorted(scope.clusters),
        },
        "clusters": [{"cluster": run.cluster, "actions": _first_plan(run)} for run in report.runs],
        "plan": report.to_dict(),
    }


def _first_plan(run: ClusterResult) -> list[str]:
    return run.plans[0].lines() if run.plans else []


def _load_saved_plan(path: Path) -> dict:
    try:
        saved = json.loads(path.read_text())
        if saved.get("kind") != SAVED_PLAN_KIND or saved.get("schemaVersion") != 1:
            raise ValueError("not written by `sc-autopilot plan --out`")
        scope = saved["scope"]
        saved["scope"] = {"subscriptions": scope["subscriptions"], "resource_groups": scope["resourceGroups"],
                          "clusters": scope["clusters"]}  # fmt: skip
        for cluster in saved["clusters"]:
            cluster["cluster"], cluster["actions"] = str(cluster["cluster"]), [str(a) for a in cluster["actions"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"{path} is not a saved plan: {error}") from None
    return saved


# -- output plumbing ---------------------------------------------------------------------------------------
def _logging(args: argparse.Namespace) -> None:
    """--verbose: our structured lines; --debug: those and the SDKs' HTTP logs. Levels are only ever lowered."""
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    wanted = logging.DEBUG if args.debug else logging.INFO if args.verbose else None
    if wanted is None:
        return
    ours = logging.getLogger(LOGGER_NAME)
    ours.setLevel(min(ours.getEffectiveLevel(), wanted))
    if args.debug:
        logging.getLogger().setLevel(logging.DEBUG)


def _with_progress(work):
    err = output.console(stderr=True)
    with output.progress(err) as bar:
        task = bar.add_task("reading", total=None)
        return work(lambda phase, done, total: bar.update(task, description=phase, completed=done, total=total))
