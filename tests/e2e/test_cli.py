"""The CLI on the local cloud, through its real entry points: the same code path as the function, az/kubectl
conventions, a plan that shows every write, honest exit codes, and a one-line message for every common mistake."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from shared.cli import EXIT_DEFERRED, EXIT_DRIFT, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from shared.core.codes import Code
from tests.conftest import CLUSTER, DATABASE, OPENAI, SUB
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
MAPS = {"byCluster", "byTarget", "verdicts"}  # keyed by ids or verdict names, not field names


def camel_keys(document, path="") -> list[str]:
    """Every field name that is not camelCase (values of id- or verdict-keyed maps aside)."""
    bad = []
    if isinstance(document, dict):
        for key, value in document.items():
            if not CAMEL.match(key):
                bad.append(f"{path}.{key}")
            if key not in MAPS:
                bad += camel_keys(value, f"{path}.{key}")
    elif isinstance(document, list):
        for item in document:
            bad += camel_keys(item, path)
    return bad


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def cli(*argv: str, **env: str) -> subprocess.CompletedProcess:
    """The installed entry point in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *argv], capture_output=True, text=True, env={**os.environ, **env},
        timeout=120,
    )  # fmt: skip


def test_handle_event_then_plan_is_empty(estate, capsys, tmp_path):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    events = tmp_path / "events.json"
    events.write_text(json.dumps(estate.new_events()))
    code, report = run_json(capsys, "handle-event", str(events), "-o", "json")  # global option after the command
    assert code == EXIT_OK and any("put linker scap_" in o["action"] for c in report["clusters"] for o in c["outcomes"])
    code, report = run_json(capsys, "plan", "--output", "json", "--detailed-exitcode")
    assert code == EXIT_OK  # no changes
    assert report["ok"] and all(not plan["actions"] for c in report["clusters"] for plan in c["plans"])


def test_the_plan_shows_every_write_apply_makes(estate, admin, capsys):
    """A freshly tagged estate: the plan lists the linker and the workload patches that follow it; apply makes
    exactly those writes; a second plan is empty."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    code, planned = run_json(capsys, "-o", "json", "plan", "--detailed-exitcode")
    assert code == 2  # changes pending
    actions = [a for c in planned["clusters"] for p in c["plans"] for a in p["actions"]]
    puts = {a["description"].split()[2] for a in actions if a["type"] == "PutLinker"}
    rewires = [a for a in actions if a["type"] == "RewireWorkload"]
    assert len(puts) == 2 and {w for a in rewires for w in a["dependsOn"]} == puts
    assert {a["description"].split()[1] for a in rewires} == {
        "deployment/shop/api", "statefulset/shop/worker", "deployment/shop/web", "cronjob/shop/report"
    }  # fmt: skip
    assert camel_keys(planned) == []
    code, dry = run_json(capsys, "apply", "--dry-run", "-o", "json")
    assert code == EXIT_OK and [c["plans"] for c in dry["clusters"]] == [c["plans"] for c in planned["clusters"]]
    mark = admin.mark()
    code, applied = run_json(capsys, "apply", "-o", "json")
    assert code == EXIT_OK
    done = [o["action"] for c in applied["clusters"] for o in c["outcomes"] if o["status"] == "applied"]
    strip = lambda line: re.sub(r" \(after linker .*\)$", "", line)  # noqa: E731
    assert sorted(done) == sorted(strip(a["description"]) for a in actions)
    kube_patches = [r for r in estate.writes_since(mark) if r["method"] == "PATCH" and "/apis/" in r["path"]]
    assert len(kube_patches) == len(rewires)
    assert run_json(capsys, "plan", "-o", "json", "--detailed-exitcode")[0] == EXIT_OK


def test_a_saved_plan_applies_only_while_the_estate_matches(estate, admin, capsys, tmp_path):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    saved = tmp_path / "plan.json"
    assert main(["plan", "--out", str(saved), "-o", "json"]) == EXIT_OK
    capsys.readouterr()
    estate.tag(DATABASE, {**SQL_TAGS, "sc-workloads": "deployment/api"})  # the estate moves after the review
    mark = admin.mark()
    assert main(["apply", "--plan", str(saved)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "the estate moved" in err and "aks-shop: - rewire statefulset/shop/worker" in err
    assert estate.writes_since(mark) == []
    assert main(["plan", "--out", str(saved), "-o", "json"]) == EXIT_OK  # plan again, review, apply
    capsys.readouterr()
    code, applied = run_json(capsys, "apply", "--plan", str(saved), "-o", "json")
    assert code == EXIT_OK and applied["ok"] and estate.linkers()
    (tmp_path / "other.json").write_text("{}")
    assert main(["apply", "--plan", str(tmp_path / "other.json")]) == EXIT_USAGE


def test_filters_limit_a_run_and_a_filter_that_matches_nothing_is_a_usage_error(estate, admin, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    mark = admin.mark()
    assert main(["apply", "--cluster", "aks-other", "-o", "json"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and estate.writes_since(mark) == []
    assert captured.err == (
        f"sc-autopilot: --cluster aks-other matches no cluster tagged sc-group; tagged: aks-shop (-g rg-shop, "
        f"--subscription {SUB})\n"
    )
    code, report = run_json(
        capsys, "plan", "-o", "json", "-g", "rg-shop", "--subscription", SUB.upper(), "--cluster", CLUSTER
    )
    assert code == EXIT_OK and [c["cluster"] for c in report["clusters"]] == [CLUSTER]
    code, report = run_json(capsys, "plan", "-o", "json", "--subscription", "contoso-platform")  # a name, as az
    assert code == EXIT_OK and [c["cluster"] for c in report["clusters"]] == [CLUSTER]
    assert main(["plan", "--subscription", "00000000-0000-4000-8000-000000000000"]) == EXIT_USAGE
    assert f"is not one of SC_SUBSCRIPTIONS (by id or name): {SUB} (contoso-platform)" in capsys.readouterr().err
    assert main(["plan", "-g", "rg-nope"]) == EXIT_USAGE
    assert "-g rg-nope matches no cluster tagged sc-group; tagged: aks-shop" in capsys.readouterr().err


@pytest.mark.parametrize("mistake", ["missing event file", "http endpoint", "unwritable report", "no settings"])
def test_common_mistakes_are_a_message_and_exit_2(mistake, admin, monkeypatch, capsys, tmp_path):
    argv = ["sweep", "--report", str(tmp_path / "no-such-dir" / "r.html")] if mistake == "unwritable report" else []
    if mistake == "missing event file":
        argv = ["handle-event", str(tmp_path / "events.json")]
    elif mistake == "http endpoint":
        monkeypatch.setenv("SC_ARM_ENDPOINT", "http://management.azure.com")
        argv = ["plan"]
    elif mistake == "no settings":
        monkeypatch.delenv("SC_SUBSCRIPTIONS")
        argv = ["plan"]
    mark = admin.mark()
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("sc-autopilot: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert admin.requests_since(mark) == []  # checked before any work
    assert main([*argv[:1], "--detailed-exitcode"] if argv[0] == "plan" else argv) in (EXIT_USAGE, EXIT_FAILED)


def test_sweep_exit_codes_drift_and_reports(estate, app, tmp_path, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    page, document = tmp_path / "report.html", tmp_path / "report.json"
    assert main(["sweep", "--dry-run", "--report", str(document)]) == EXIT_DRIFT  # not connected yet: Drifted
    assert json.loads(document.read_text())["summary"]["verdicts"]["Drifted"] == 1
    capsys.readouterr()
    app.events.handle(estate.new_events())
    assert main(["sweep", "--report", str(page)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Compliant 1" in out and "<h1>sc-autopilot compliance report</h1>" in page.read_text()
    code, report = run_json(capsys, "sweep", "--dry-run", "-o", "json")
    assert code == EXIT_OK and camel_keys(report) == [] and report["schemaVersion"] == 2
    assert yaml.safe_load((cli("sweep", "--dry-run", "-o", "yaml")).stdout)["summary"]["verdicts"]["Compliant"] == 1


def test_a_missing_workload_is_an_error_verdict_in_red_and_codes_never_break(estate, monkeypatch, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, {**SQL_TAGS, "sc-workloads": "deployment/api,deployment/no-such-app"})
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert main(["sweep", "--dry-run"]) == EXIT_FAILED  # an Error verdict from the first sweep on
    out = capsys.readouterr().out
    assert "\x1b[1;31mError" in out and "\x1b[33mDrifted" in out and "\x1b[32mCompliant" in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert all(len(line) <= 80 for line in plain.splitlines())
    for code in (Code.WORKLOAD_NOT_FOUND, Code.LINKER_MISSING):
        assert code.value in plain  # whole, never wrapped mid-word
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["sweep", "--dry-run"]) == EXIT_FAILED
    assert "\x1b[31m" not in capsys.readouterr().out and "\x1b[1;31m" not in capsys.readouterr().out


def test_deferral_has_its_exit_code_and_dry_run_writes_nothing(estate, admin):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    mark = admin.mark()
    assert main(["apply", "--dry-run"]) == EXIT_OK
    assert estate.writes_since(mark) == [] and estate.linkers() == []
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    assert main(["apply"]) == EXIT_DEFERRED


def test_report_renders_a_saved_json_report_offline(estate, app, tmp_path, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    app.events.handle(estate.new_events())
    document, page = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["sweep", "--dry-run", "--report", str(document)]) == EXIT_OK
    version_1 = tmp_path / "v1.json"  # an earlier report of the first schema still gives its trend
    version_1.write_text(
        json.dumps(
            {
                "schemaVersion": 1,
                "generatedAt": "2026-11-30T12:00:00Z",
                "summary": {
                    "verdicts": {"Compliant": 0, "Drifted": 1, "Pending": 0, "Orphaned": 0, "Error": 0},
                    "orphans": 0,
                },
            }
        )
    )
    assert main(["report", str(document), str(page), "--previous", str(version_1)]) == EXIT_OK
    assert "Trend over 2 reports" in page.read_text() and "-1 since last" in page.read_text()
    (tmp_path / "bad.json").write_text('{"not": "a report"}')
    assert main(["report", str(tmp_path / "bad.json"), str(page)]) == EXIT_USAGE
    assert main(["report", str(document), str(tmp_path / "page.json")]) == EXIT_USAGE  # the page is HTML only
    assert not (tmp_path / "page.json").exists()


def test_progress_counts_clusters(estate, app):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    seen = []
    app.sweeper.run(dry_run=True, progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert seen == [("reading", 0, 1), ("reading", 1, 1), ("sweeping", 0, 1), ("sweeping", 1, 1)]


def test_version_help_completion_and_verbose_versus_debug(estate):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    assert re.fullmatch(r"sc-autopilot \d+\.\d+\.\d+\n", cli("--version").stdout)
    help_text = cli("sweep", "--help").stdout
    assert "The compliance sweep" in help_text and "4  sweep: drift found" in help_text
    verbose, debug = cli("plan", "--verbose"), cli("--debug", "plan")
    assert verbose.returncode == debug.returncode == EXIT_OK
    assert "sc_autopilot.app plan {" in verbose.stderr and "Request URL" not in verbose.stderr
    assert "sc_autopilot.app plan {" in debug.stderr and "Request URL" in debug.stderr


def test_shell_completion(tmp_path):
    target = tmp_path / "completions"
    line = "sc-autopilot sw"
    env = {"_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE_STDOUT_FILENAME":
           str(target), "_ARGCOMPLETE_IFS": "\n"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "shared.cli"], env={**os.environ, **env}, timeout=60, check=False)
    assert target.read_text().split() == ["sweep"]


def test_a_patch_that_follows_a_failed_linker_is_not_applied(estate, admin, capsys):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    admin.post("faults", [{"kind": "status", "status": 403, "service": "arm", "method": "PUT", "path": "linkers",
                           "times": 50}])  # fmt: skip
    mark = admin.mark()
    code, report = run_json(capsys, "apply", "-o", "json")
    assert code == EXIT_FAILED
    outcomes = [o for c in report["clusters"] for o in c["outcomes"]]
    waiting = [o for o in outcomes if o["action"].startswith("rewire ")]
    assert waiting and all(o["status"] == "blocked" and "waits for: put-linker/" in o["detail"] for o in waiting)
    assert [r for r in estate.writes_since(mark) if "/apis/" in r["path"]] == []  # no workload was patched
