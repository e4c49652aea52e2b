"""The sweep report: a stable JSON document (schema.json) and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from collections import Counter
from datetime import datetime
from importlib import resources

from shared.core.orphans import Orphan
from shared.core.verdicts import Status
from shared.service.results import ClusterSweep, SweepResult

SCHEMA_VERSION = 1


def schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text())


def to_json(result: SweepResult) -> dict:
    return merge([fragment(c) for c in result.clusters], result.started, result.dry_run)


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
    connections = [c for f in fragments for c in f["connections"]]
    findings = {(x["code"], x["resource"], x["message"]): x for f in fragments for x in f["findings"]}
    return {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dryRun": dry_run,
        "summary": {
            "clusters": len(fragments),
            "connections": len(connections),
            "verdicts": {s.value: sum(c["verdict"] == s.value for c in connections) for s in Status},
            "repaired": sum(c["repaired"] for c in connections),
            "orphans": sum(len(f["orphans"]) for f in fragments),
            "changes": sum(len(f["changes"]) for f in fragments),
        },
        "byCluster": {f["cluster"]: dict(Counter(c["verdict"] for c in f["connections"])) for f in fragments},
        "byTarget": {
            target: dict(Counter(c["verdict"] for c in connections if c["target"] == target))
            for target in sorted({c["target"] for c in connections})
        },
        "connections": connections,
        "orphans": [o for f in fragments for o in f["orphans"]],
        "findings": list(findings.values()),
        "changes": [c for f in fragments for c in f["changes"]],
    }


def to_html(report: dict, previous: list[dict] | None = None) -> str:
    """One self-contained page: counts first, then what needs a person, with the fix next to it."""
    esc = html.escape
    counts = report["summary"]["verdicts"]
    cards = "".join(f'<div class="card {k.lower()}"><b>{n}</b><span>{k}</span></div>' for k, n in counts.items())
    rows = "".join(
        f"<tr class='{esc(c['verdict'].lower())}'><td>{esc(_name(c['cluster']))}</td><td>{esc(c['connection'])}</td>"
        f"<td>{esc(_name(c['target']))}</td><td>{esc(c['verdict'])}{' (repaired)' if c['repaired'] else ''}</td>"
        f"<td>{'<br>'.join(esc(r['code'] + ': ' + r['message']) for r in c['reasons'])}</td>"
        f"<td>{'<br>'.join(esc(r['fix']) for r in c['reasons'])}</td></tr>"
        for c in report["connections"]
    )
    orphans = "".join(
        f"<tr><td>{esc(_name(o['cluster']))}</td><td>{esc(o['kind'])}</td><td>{esc(o['namespace'])}/{esc(o['name'])}</td>"
        f"<td>{esc(o['since'] or 'now')}</td><td>{esc(o['state'])}</td></tr>"
        for o in report["orphans"]
    )
    findings = "".join(
        f"<tr><td>{esc(f['severity'])}</td><td>{esc(f['code'])}</td><td>{esc(_name(f['resource']))}</td>"
        f"<td>{esc(f['message'])}</td><td>{esc(f['fix'])}</td></tr>"
        for f in report["findings"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sc-autopilot compliance report</title>
<style>
body{{font:14px system-ui,sans-serif;margin:2rem;color:#1b1f24}} h1{{font-size:1.4rem}}
.cards{{display:flex;gap:1rem;margin:1rem 0}} .card{{padding:.8rem 1.2rem;border-radius:8px;background:#eef1f4}}
.card b{{display:block;font-size:1.6rem}} .compliant{{background:#e6f4ea}} .drifted{{background:#fff4d6}}
.pending{{background:#e8f0fe}} .orphaned{{background:#f3e8fd}} .error{{background:#fce8e6}}
table{{border-collapse:collapse;width:100%;margin:1rem 0}} td,th{{border-bottom:1px solid #d0d7de;padding:.4rem;
text-align:left;vertical-align:top}} th{{background:#f6f8fa}}
</style></head><body>
<h1>sc-autopilot compliance report</h1>
<p>{esc(report["generatedAt"])} · {report["summary"]["clusters"]} cluster(s) · {report["summary"]["connections"]}
connection(s) · {report["summary"]["repaired"]} repaired · {report["summary"]["orphans"]} orphan(s)
{"· dry run: nothing was changed" if report["dryRun"] else ""}</p>
<div class="cards">{cards}</div>
<h2>Connections</h2><table><tr><th>Cluster</th><th>Connection</th><th>Target</th><th>Verdict</th><th>Why</th>
<th>Fix</th></tr>{rows}</table>
<h2>Orphaned Service Connector objects</h2><table><tr><th>Cluster</th><th>Kind</th><th>Object</th>
<th>Orphaned since</th><th>State</th></tr>{orphans}</table>
<h2>Findings</h2><table><tr><th>Severity</th><th>Code</th><th>Resource</th><th>Message</th><th>Fix</th></tr>
{findings}</table>
</body></html>
"""


def _orphan(cluster: str, orphan: Orphan) -> dict:
    return {
        "cluster": cluster,
        "kind": orphan.kind,
        "namespace": orphan.namespace,
        "name": orphan.name,
        "since": orphan.since,
        "state": orphan.state,
    }


def _name(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[-1]
