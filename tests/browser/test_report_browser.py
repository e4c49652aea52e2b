"""The report in a real browser (headless Chromium over CDP): worst first, filters that hide and show rows, no
horizontal scroll at 390 px, no request of any kind, and a 300-cluster report rendered in under 2 s.

SC_SCREENSHOTS=<dir> also saves the README's screenshots there (docs/img)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared import report
from shared.service.results import SweepResult
from tests.browser.cdp import Page, chromium
from tests.browser.estate import large_report

RENDER_BUDGET_SECONDS = 2.0
WORST_FIRST = ["Error", "Drifted", "Pending", "Orphaned", "Compliant"]
VISIBLE_ROWS = "[...document.querySelectorAll('tr.row')].filter(r => r.checkVisibility())"


@pytest.fixture(scope="module")
def document() -> dict:
    return large_report()


@pytest.fixture(scope="module")
def page_file(document, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(report.to_html(document, previous=[large_report(seed=299)]))
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    binary = chromium()
    assert binary, "chromium is not installed: `make test` installs it (apt-get install -y chromium)"
    browser = Page(binary, tmp_path_factory.mktemp("profile"))
    yield browser
    browser.close()


def select(page: Page, element: str, value: str) -> int:
    """Choose a filter value as a person would (a change event), and count the rows left visible."""
    page.js(f"""(() => {{ const e = document.getElementById({json.dumps(element)}); e.value = {json.dumps(value)};
                e.dispatchEvent(new Event('change')); }})()""")
    return page.js(f"{VISIBLE_ROWS}.length")


def test_renders_300_clusters_fast_worst_first_and_offline(page, page_file, document):
    page.viewport(1400, 900)
    seconds = page.open(page_file.as_uri())
    print(
        f"\n300-cluster report ({page_file.stat().st_size // 1024} KiB, {document['summary']['connections']} "
        f"connections): {seconds:.2f} s to a laid-out page"
    )  # the number the README quotes
    assert seconds < RENDER_BUDGET_SECONDS
    assert page.requests() == [page_file.as_uri()]  # the page itself, nothing else
    assert page.errors() == []
    order = page.js("[...document.querySelectorAll('#trouble tr.row')].map(r => r.dataset.verdict)")
    assert order[0] == "Error" and order.count("Error") == document["summary"]["verdicts"]["Error"]
    first_cluster = page.js("document.querySelector('#trouble tbody').dataset.cluster")
    assert document["byCluster"][next(c for c in document["byCluster"] if c.lower() == first_cluster)].get("Error")
    assert page.js("document.getElementById('compliant').open") is False  # Compliant collapsed
    cards = page.js("[...document.querySelectorAll('.card b')].map(b => +b.textContent)")
    errors = sum(f["severity"] == "error" for f in document["findings"])  # counted as the JSON says, not the page
    assert errors and document["summary"]["verdicts"]["Error"]
    expected = [document["summary"]["verdicts"][v] + (errors if v == "Error" else 0) for v in WORST_FIRST]
    assert cards == expected  # the cards count every error, the findings' included
    detail = page.js("document.querySelector('.card.v-error .detail').textContent")
    assert detail == f"{document['summary']['verdicts']['Error']} connection(s) · {errors} finding(s)"
    sections = page.js("[...document.querySelectorAll('main > section')].map(s => s.id)")
    assert sections == ["connections", "findings", "orphans", "changes"]  # what blocks work first, orphans after
    states = page.js("[...document.querySelectorAll('#orphans td[data-label=State]')].map(td => td.textContent)")
    assert sorted(states) == sorted(o["state"] for o in document["orphans"]) and "deleted" in states
    shot = os.environ.get("SC_SCREENSHOTS")
    if shot:
        page.screenshot(Path(shot) / "report-wide.png")


def test_filters_hide_and_show_rows(page, page_file, document):
    page.viewport(1400, 900)
    page.open(page_file.as_uri())
    trouble = sum(n for v, n in document["summary"]["verdicts"].items() if v != "Compliant")
    assert page.js(f"{VISIBLE_ROWS}.length") == trouble
    for verdict in WORST_FIRST:
        assert select(page, "f-verdict", verdict) == document["summary"]["verdicts"][verdict]
    select(page, "f-verdict", "")
    with_code = sum(any(r["code"] == "WORKLOAD_NOT_FOUND" for r in c["reasons"]) for c in document["connections"])
    assert select(page, "f-code", "WORKLOAD_NOT_FOUND") == with_code
    select(page, "f-code", "")
    cluster = next(c for c in document["byCluster"] if c.endswith("/aks-0007"))
    page.js("document.getElementById('compliant').open = true")
    assert select(page, "f-cluster", cluster.lower()) == sum(document["byCluster"][cluster].values())
    select(page, "f-cluster", "")
    page.js(
        "(() => { const s = document.getElementById('f-search'); s.value = 'aks-0042';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    (aks42,) = [c for c in document["byCluster"] if c.endswith("/aks-0042")]
    assert page.js(f"{VISIBLE_ROWS}.length") == sum(document["byCluster"][aks42].values())
    page.js(
        "(() => { const s = document.getElementById('f-search'); s.value = 'no such thing anywhere';"
        " s.dispatchEvent(new Event('input')); })()"
    )
    assert page.js(f"{VISIBLE_ROWS}.length") == 0 and page.js("document.getElementById('no-match').hidden") is False


def test_no_horizontal_scroll_at_390_px(page, page_file):
    page.viewport(390, 844, mobile=True)
    page.open(page_file.as_uri())
    page.js("document.getElementById('compliant').open = true")
    width = page.js("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at 390 px"
    assert page.js("document.querySelector('meta[name=viewport]').content").startswith("width=device-width")
    shot = os.environ.get("SC_SCREENSHOTS")
    if shot:
        page.js("document.getElementById('compliant').open = false; window.scrollTo(0, 0)")
        page.screenshot(Path(shot) / "report-390.png")


def test_empty_sections_say_so(page, tmp_path):
    empty = report.to_json(SweepResult(datetime(2026, 12, 1, tzinfo=UTC), dry_run=True))
    path = tmp_path / "empty.html"
    path.write_text(report.to_html(empty))
    page.viewport(1400, 900)
    page.open(path.as_uri())
    text = page.js("document.body.innerText")
    assert "No connections" in text and "No orphaned Service Connector object" in text
    assert "No findings" in text and "No changes: dry run" in text
