"""The CLI on the local cloud: same code path as the function, table or JSON, meaningful exit codes."""

from __future__ import annotations

import json

from shared.cli import EXIT_DEFERRED, EXIT_OK, EXIT_USAGE, main
from tests.conftest import CLUSTER, DATABASE
from tests.e2e.conftest import SQL_TAGS


def test_handle_event_then_plan_is_empty(estate, capsys, tmp_path):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    events = tmp_path / "events.json"
    events.write_text(json.dumps(estate.new_events()))
    assert main(["handle-event", str(events)]) == EXIT_OK
    assert "put linker scap_" in capsys.readouterr().out
    assert main(["--output", "json", "plan"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and all(not plan["actions"] for c in report["clusters"] for plan in c["plans"])


def test_dry_run_writes_nothing_and_deferral_has_its_exit_code(estate, admin, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    mark = admin.mark()
    assert main(["apply", "--dry-run"]) == EXIT_OK
    assert estate.writes_since(mark) == [] and estate.linkers() == []
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    assert main(["apply"]) == EXIT_DEFERRED


def test_missing_settings_are_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("SC_SUBSCRIPTIONS", raising=False)
    assert main(["plan"]) == EXIT_USAGE
    assert "SC_SUBSCRIPTIONS is not set" in capsys.readouterr().err


def test_sweep_writes_an_html_or_json_report(estate, app, tmp_path, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    app.handle_events(estate.new_events())
    page, document = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["sweep", "--report", str(page)]) == EXIT_OK
    assert "Compliant 1" in capsys.readouterr().out and "<h1>sc-autopilot compliance report</h1>" in page.read_text()
    assert main(["sweep", "--dry-run", "--report", str(document)]) == EXIT_OK
    assert json.loads(document.read_text())["summary"]["verdicts"]["Compliant"] == 1


def test_report_renders_a_saved_json_report_offline(estate, app, tmp_path):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    app.handle_events(estate.new_events())
    document, page = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["sweep", "--dry-run", "--report", str(document)]) == EXIT_OK
    assert main(["report", str(document), str(page)]) == EXIT_OK
    assert "compliance report" in page.read_text()
    (tmp_path / "bad.json").write_text('{"not": "a report"}')
    assert main(["report", str(tmp_path / "bad.json"), str(page)]) == EXIT_USAGE
