"""The sweep report: a stable JSON document (schema.json) and a self-contained HTML page (html.py) rendered from
that document alone, so a saved report renders offline without any SDK."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from importlib import resources

from shared.core.orphans import Orphan
from shared.core.verdicts import WORST_FIRST
from shared.report import html
from shared.service.results import ClusterSweep, SweepResult

# 2: summary.orphanedObjects (was orphans: objects, not the Orphaned verdict of connections) and summary.findings;
# verdict counts worst first.
SCHEMA_VERSION = 2


def schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text())


def to_json(result: SweepResult) -> dict:
    fragments = [fragment(c) for c in result.clusters]
    if result.failures:  # estate reads that failed belong to no cluster: reported all the same
        fragments.append({"cluster": None, "connections": [], "orphans": [], "changes": [],
                          "findings": [f.to_dict() for f in result.failures]})  # fmt: skip
    return merge(fragments, result.started, result.dry_run)


def fragment(cluster: ClusterSweep) -> dict:
    """One cluster's part of the report; the fan-out stores these and merges them when all are in."""
    return {
        "cluster": cluster.cluster,
        "connections": [v.to_dict() for v in cluster.verdicts],
        "orphans": [_orphan(cluster.cluster, o) for o in cluster.orphans],
        "findings": [f.to_dict() for f in cluster.findings],
        "changes": [{"cluster": cluster.cluster, "change": change} for change in cluster.changes],
    }


def merge(fragments: list[dict], started: datetime, dry_run: bool) -> dict:
    """Every count is computed here from the lists the document carries, so they agree wherever they are shown."""
    clusters = [f for f in fragments if f["cluster"] is not None]
    connections = [c for f in fragments for c in f["connections"]]
    findings = list({(x["code"], x["resource"], x["message"]): x for f in fragments for x in f["findings"]}.values())
    orphans = [o for f in fragments for o in f["orphans"]]
    changes = [c for f in fragments for c in f["changes"]]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dryRun": dry_run,
        "summary": {
            "clusters": len(clusters),
            "connections": len(connections),
            "verdicts": {s.value: sum(c["verdict"] == s.value for c in connections) for s in WORST_FIRST},
            "repaired": sum(c["repaired"] for c in connections),
            "orphanedObjects": len(orphans),
            "findings": len(findings),
            "changes": len(changes),
        },
        "byCluster": {f["cluster"]: dict(Counter(c["verdict"] for c in f["connections"])) for f in clusters},
        "byTarget": {
            target: dict(Counter(c["verdict"] for c in connections if c["target"] == target))
            for target in sorted({c["target"] for c in connections})
        },
        "connections": connections,
        "orphans": orphans,
        "findings": findings,
        "changes": changes,
    }


def to_html(report: dict, previous: list[dict] | None = None) -> str:
    """One self-contained page; `previous` reports (oldest first) give each verdict its trend."""
    return html.page(report, previous or [])


def _orphan(cluster: str, orphan: Orphan) -> dict:
    return {
        "cluster": cluster,
        "kind": orphan.kind,
        "namespace": orphan.namespace,
        "name": orphan.name,
        "since": orphan.since,
        "state": orphan.state,
    }
