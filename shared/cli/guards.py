"""The CLI's checks around a run: fail fast with the cause (no credential, an endpoint that refuses), filters and
inputs that match nothing are errors, and an error-severity finding is a failed run. One line each, never a trace."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from azure.core.credentials import TokenCredential

from shared.adapters.azure import preflight
from shared.adapters.azure.credential import default_credential
from shared.config import Settings
from shared.core.codes import Code, Severity
from shared.core.eventgrid import decode
from shared.core.ids import ResourceRef
from shared.core.scope import ClusterScope

if TYPE_CHECKING:  # the service layer loads every SDK: imported once the preflight passed
    from shared.container import Application
    from shared.service.results import RunReport

REPORT_SUFFIXES = (".json", ".html")
_REFUSED = re.compile(r"connection refused by (\S+?)\)")  # the kube adapter's READ_FAILED message


class UsageError(Exception):
    """A mistake in how the CLI was called: a one-line message and exit 2."""


def credential(settings: Settings, args: argparse.Namespace) -> TokenCredential:
    """The run's credential, once ARM answers and a token can be had (else a PreflightError)."""
    found = default_credential(settings)
    preflight.check(settings, found, quiet=not args.debug)
    return found


def subscriptions(values: list[str], settings: Settings, credential: TokenCredential) -> list[str]:
    """Each --subscription as an id in SC_SUBSCRIPTIONS; a display name is looked up as az does."""
    ids = []
    names: dict[str, str] | None = None
    for value in values:
        if value.lower() in settings.subscriptions:
            ids.append(value.lower())
            continue
        if names is None:
            names = preflight.subscription_names(settings, credential)
        named = [sid for sid, name in names.items() if name.lower() == value.lower() and sid in settings.subscriptions]
        if len(named) != 1:
            known = ", ".join(f"{sid} ({names[sid]})" if names.get(sid) else sid for sid in settings.subscriptions)
            raise UsageError(f"--subscription {value} is not one of SC_SUBSCRIPTIONS (by id or name): {known}")
        ids.append(named[0])
    return ids


def check_matched(scope: ClusterScope, clusters_run: int, listing_failed: bool, app: Application) -> None:
    """A filter that selects no cluster is a typo, not a clean run: exit 2, naming the tagged clusters there are.
    Only when the listing was complete (a failed listing leaves the run failed, never "nothing there")."""
    if scope.everything or clusters_run or listing_failed:
        return
    estate = app.inventory.estate()
    if estate.failures:
        return
    clusters = sorted((ResourceRef.parse(c.id) for c in estate.clusters), key=lambda r: r.id.lower())
    tagged = ", ".join(f"{r.name} (-g {r.resource_group}, --subscription {r.subscription_id})" for r in clusters)
    which = _unmatched(scope, clusters) or "--subscription/-g/--cluster together"
    raise UsageError(f"{which} matches no cluster tagged sc-group; tagged: {tagged or 'none'}")


def _unmatched(scope: ClusterScope, clusters: list[ResourceRef]) -> str | None:
    for flag, values, field in (
        ("--subscription", scope.subscriptions, lambda r: {r.subscription_id.lower()}),
        ("-g", scope.resource_groups, lambda r: {r.resource_group.lower()}),
        ("--cluster", scope.clusters, lambda r: {r.name.lower(), r.id.lower()}),
    ):
        missing = sorted(v for v in values if not any(v in field(r) for r in clusters))
        if missing:
            return f"{flag} {','.join(missing)}"
    return None


def check_reachable(report: RunReport) -> None:
    """When every cluster of the run had its API server refuse the connection (a stopped local cloud, a wrong
    address), say so in one line per endpoint rather than a table of READ_FAILED: the first call already told."""
    endpoints = {}
    for run in report.runs:
        refused = [m[1] for f in run.findings if f.code is Code.READ_FAILED and (m := _REFUSED.search(f.message))]
        if not refused:
            return
        endpoints[run.cluster] = refused[0]
    if endpoints:
        raise preflight.UnreachableError("\n".join(
            f"cannot reach the Kubernetes API of {cluster.rsplit('/', 1)[-1]} at {endpoint} (connection refused)"
            for cluster, endpoint in endpoints.items()
        ))  # fmt: skip


def has_errors(report: RunReport) -> bool:
    """An error-severity finding (a broken tag, a missing workload, a consent not given) fails the run for CI."""
    return any(f.severity is Severity.ERROR for f in report.findings)


def events(payload: bytes, name: str) -> bytes:
    """The event file must decode (JSON, within Event Grid's size, not nested absurdly) and hold objects: a file
    that does not is a mistake to say so, not "1 event(s) ignored". The Functions host keeps reporting ignores."""
    try:
        items = decode(payload)
    except (UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"the event file {name} is not readable JSON: {str(error).splitlines()[0][:160]}") from None
    if not items or not all(isinstance(item, dict) for item in items):
        raise UsageError(f"the event file {name} holds no events: give an event object or an array of them")
    return payload


def report_path(path: Path | None) -> None:
    if path is not None and path.suffix.lower() not in REPORT_SUFFIXES:
        raise UsageError(f"--report {path}: give a .json or .html file name")


def html_page(path: Path) -> None:
    """`report` writes HTML only: a page named .json (or .txt) would be a surprise to whoever opens it."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"report {path}: the page is HTML, give a .html file name")
