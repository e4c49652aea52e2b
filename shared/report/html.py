"""The report page: one self-contained file (inline style and script, no request of any kind, a CSP that forbids
them), worst first, grouped by subscription / resource group / cluster, filters and a search box, readable on a
390 px phone. Renders from the JSON document only."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from importlib import resources

from shared.core.ids import ResourceRef
from shared.core.verdicts import WORST_FIRST

ORDER = [s.value for s in WORST_FIRST]  # Error, Drifted, Pending, Orphaned, Compliant
RANK = {verdict: index for index, verdict in enumerate(ORDER)}
SEVERITIES = ("error", "warning", "info")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
esc = html.escape


def page(report: dict, previous: list[dict]) -> str:
    summary = report["summary"]
    assets = resources.files(__package__)
    connections = report["connections"]
    trouble = [c for c in connections if c["verdict"] != "Compliant"]
    compliant = [c for c in connections if c["verdict"] == "Compliant"]
    codes = sorted({r["code"] for c in connections for r in c["reasons"]})
    clusters = sorted({c["cluster"] for c in connections}, key=str.lower)
    dry = " · dry run: nothing was changed" if report["dryRun"] else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>sc-autopilot compliance report {esc(report["generatedAt"])}</title>
<style>{assets.joinpath("page.css").read_text()}</style></head><body>
<header><h1>sc-autopilot compliance report</h1>
<p class="meta">{esc(report["generatedAt"])} · {summary["clusters"]} cluster(s) · {summary["connections"]}
connection(s) · {summary["repaired"]} repaired · {summary["orphanedObjects"]} orphaned object(s) ·
{summary["findings"]} finding(s) · {summary["changes"]} change(s){dry}</p>
{_cards(summary, previous, report["findings"])}{_trend(report, previous)}</header>
<main>
<section id="connections"><h2>Connections</h2>
{_filters(clusters, codes)}
<p class="shown" id="shown" aria-live="polite"></p>
{_connections(trouble, compliant)}
</section>
{_findings(report["findings"])}
{_orphans(report["orphans"])}
{_changes(report["changes"], report["dryRun"])}
</main>
<script>{assets.joinpath("page.js").read_text()}</script>
</body></html>
"""


def _cards(summary: dict, previous: list[dict], findings: list[dict]) -> str:
    """One card per verdict. The Error card counts every error that needs a person: the Error connections and the
    error-severity findings (a refused consent or a broken tag blocks a connection that therefore has no verdict)."""
    before = previous[-1]["summary"]["verdicts"] if previous else None
    error_findings = sum(f["severity"] == "error" for f in findings)
    cards = []
    for verdict in ORDER:
        count = summary["verdicts"][verdict]
        delta = ""
        if before is not None:
            change = count - before.get(verdict, 0)
            delta = f'<small class="delta">{"+" if change > 0 else ""}{change} since last</small>' if change else ""
        detail = ""
        if verdict == "Error" and error_findings:
            detail = f'<small class="detail">{count} connection(s) · {error_findings} finding(s)</small>'
            count += error_findings
        cards.append(
            f'<button type="button" class="card v-{verdict.lower()}" data-verdict="{verdict}" '
            f'aria-label="show {verdict} connections"><b>{count}</b><span>{verdict}</span>{detail}{delta}</button>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _trend(report: dict, previous: list[dict]) -> str:
    if not previous:
        return ""
    rows = "".join(
        f"<tr><td>{esc(r['generatedAt'])}</td>"
        + "".join(f"<td class='num'>{r['summary']['verdicts'].get(v, 0)}</td>" for v in ORDER)
        + "</tr>"
        for r in [*previous, report]
    )
    head = "".join(f"<th class='num'>{v}</th>" for v in ORDER)
    return (
        f'<details class="trend"><summary>Trend over {len(previous) + 1} reports</summary>'
        f"<table><thead><tr><th>report</th>{head}</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _filters(clusters: list[str], codes: list[str]) -> str:
    verdicts = "".join(f'<option value="{v}">{v}</option>' for v in ORDER)
    cluster_options = "".join(f'<option value="{esc(c.lower())}">{esc(_path(c))}</option>' for c in clusters)
    code_options = "".join(f'<option value="{esc(c)}">{esc(c)}</option>' for c in codes)
    return f"""<form class="filters" id="filters" role="search" onsubmit="return false">
<label>Verdict <select id="f-verdict"><option value="">all</option>{verdicts}</select></label>
<label>Cluster <select id="f-cluster"><option value="">all</option>{cluster_options}</select></label>
<label>Reason <select id="f-code"><option value="">all</option>{code_options}</select></label>
<label class="search">Search <input id="f-search" type="search" placeholder="name, code, message..."></label>
</form>"""


def _connections(trouble: list[dict], compliant: list[dict]) -> str:
    if not trouble and not compliant:
        return '<p class="empty">No connections: no tagged cluster shares an sc-group with a target.</p>'
    head = "<thead><tr><th>Verdict</th><th>Connection</th><th>Target</th><th>Why</th><th>Fix</th></tr></thead>"
    body = "".join(_group(cluster, rows) for cluster, rows in _grouped(trouble))
    main = (
        f'<table class="conn" id="trouble">{head}{body}</table>'
        if trouble
        else '<p class="empty" id="no-trouble">Every connection is Compliant.</p>'
    )
    ok_body = "".join(_group(cluster, rows) for cluster, rows in _grouped(compliant))
    collapsed = (
        f'<details id="compliant"><summary>{len(compliant)} Compliant connection(s)</summary>'
        f'<table class="conn">{head}{ok_body}</table></details>'
        if compliant
        else '<p class="empty">No Compliant connection.</p>'
    )
    return main + '<p class="empty" id="no-match" hidden>No connection matches the filters.</p>' + collapsed


def _grouped(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """Clusters worst first (then by subscription, resource group, name); rows worst first within each."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["cluster"]].append(row)
    for members in groups.values():
        members.sort(key=lambda c: (RANK[c["verdict"]], c["connection"]))
    return sorted(groups.items(), key=lambda g: (RANK[g[1][0]["verdict"]], _path(g[0]).lower()))


def _group(cluster: str, rows: list[dict]) -> str:
    counts = Counter(r["verdict"] for r in rows)
    tally = " · ".join(f"{counts[v]} {v}" for v in ORDER if counts[v])
    head = (
        f'<tr class="grouphead"><th colspan="5"><span class="path">{esc(_path(cluster))}</span> '
        f'<span class="tally">{tally}</span></th></tr>'
    )
    return f'<tbody data-cluster="{esc(cluster.lower())}">{head}{"".join(_row(r) for r in rows)}</tbody>'


def _row(c: dict) -> str:
    verdict = c["verdict"]
    codes = " ".join(r["code"] for r in c["reasons"])
    why = "".join(f'<div><code class="code">{esc(r["code"])}</code> {esc(r["message"])}</div>' for r in c["reasons"])
    fix = "".join(f"<div>{esc(r['fix'])}</div>" for r in c["reasons"]) or "—"
    repaired = ' <span class="repaired">repaired</span>' if c["repaired"] else ""
    # each consumer's rollout onto the secret, and when sc-autopilot last rolled it (a rotation's confirmation)
    consumers = "".join(
        f'<div class="consumer">{esc(k["workload"])}: {esc(k["rollout"])}'
        f"{', rolled ' + esc(k['rolledAt']) if k.get('rolledAt') else ''}</div>"
        for k in c.get("consumers") or []
    )
    return (
        f'<tr class="row v-{verdict.lower()}" data-verdict="{verdict}" data-codes="{esc(codes)}">'
        f'<td data-label="Verdict"><span class="badge v-{verdict.lower()}">{verdict}</span>{repaired}</td>'
        f'<td data-label="Connection" class="id">{esc(c["connection"])}{consumers}</td>'
        f'<td data-label="Target" class="id" title="{esc(c["target"])}">{esc(_name(c["target"]))}</td>'
        f'<td data-label="Why">{why or "—"}</td><td data-label="Fix">{fix}</td></tr>'
    )


def _orphans(orphans: list[dict]) -> str:
    title = f"<h2>Orphaned Service Connector objects ({len(orphans)})</h2>"
    if not orphans:
        return f'<section id="orphans">{title}<p class="empty">No orphaned Service Connector object.</p></section>'
    rows = "".join(
        f'<tr><td data-label="Cluster">{esc(_path(o["cluster"]))}</td><td data-label="Kind">{esc(o["kind"])}</td>'
        f'<td data-label="Object" class="id">{esc(o["namespace"])}/{esc(o["name"])}</td>'
        f'<td data-label="Since">{esc(o["since"] or "now")}</td><td data-label="State">{esc(o["state"])}</td></tr>'
        for o in sorted(orphans, key=lambda o: (_path(o["cluster"]).lower(), o["namespace"], o["name"]))
    )
    head = "<thead><tr><th>Cluster</th><th>Kind</th><th>Object</th><th>Orphaned since</th><th>State</th></tr></thead>"
    return f'<section id="orphans">{title}<table>{head}<tbody>{rows}</tbody></table></section>'


def _findings(findings: list[dict]) -> str:
    title = f"<h2>Findings ({len(findings)})</h2>"
    if not findings:
        return f'<section id="findings">{title}<p class="empty">No findings: every tag was understood.</p></section>'
    ordered = sorted(findings, key=lambda f: (SEVERITIES.index(f["severity"]), f["code"], f["resource"].lower()))
    rows = "".join(
        f'<tr class="sev-{esc(f["severity"])}"><td data-label="Severity">{esc(f["severity"])}</td>'
        f'<td data-label="Code"><code class="code">{esc(f["code"])}</code></td>'
        f'<td data-label="Resource" class="id" title="{esc(f["resource"])}">{esc(_name(f["resource"]))}</td>'
        f'<td data-label="Message">{esc(f["message"])}</td><td data-label="Fix">{esc(f["fix"])}{_snippet(f)}</td></tr>'
        for f in ordered
    )
    head = "<thead><tr><th>Severity</th><th>Code</th><th>Resource</th><th>Message</th><th>Fix</th></tr></thead>"
    return f'<section id="findings">{title}<table>{head}<tbody>{rows}</tbody></table></section>'


def _snippet(finding: dict) -> str:
    """What to commit, whole: preformatted, so it is copied exactly as shown."""
    return f'<pre class="snippet">{esc(finding["snippet"])}</pre>' if finding.get("snippet") else ""


def _changes(changes: list[dict], dry_run: bool) -> str:
    title = f"<h2>Changes ({len(changes)})</h2>"
    if not changes:
        why = "dry run: nothing was changed" if dry_run else "nothing needed changing"
        return f'<section id="changes">{title}<p class="empty">No changes: {why}.</p></section>'
    rows = "".join(
        f'<tr><td data-label="Cluster">{esc(_path(c["cluster"]))}</td>'
        f'<td data-label="Change">{esc(c["change"])}</td></tr>'
        for c in changes
    )
    return (
        f'<section id="changes">{title}<table><thead><tr><th>Cluster</th><th>Change</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def _path(cluster_id: str) -> str:
    """subscription / resource group / cluster, as an operator finds it in the portal."""
    try:
        ref = ResourceRef.parse(cluster_id)
    except ValueError:
        return cluster_id
    return f"{ref.subscription_id} / {ref.resource_group} / {ref.name}"


def _name(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[-1]
