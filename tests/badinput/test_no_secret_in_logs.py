"""Secrets never logged: the SQL password the app reads from Key Vault appears in no log record of any logger at
DEBUG, in no RunReport (to_dict JSON, summary, findings), in no CLI output and in no sweep report: on the happy path,
on failures after the password was read, and when a hostile tag holds the password itself.

"By design" is checked too: no record of ours was even redacted (the redacting filter is the belt, not the braces).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator

import pytest

from shared import report as report_module
from shared.adapters.logs import LOGGER_NAME
from shared.cli import main
from tests.conftest import CLUSTER, DATABASE, OPENAI
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, PASSWORD, SQL_TAGS, secret_values

REDACTED = "***"


class Records(logging.Handler):
    """Every record of the `sc_autopilot` logger tree, whether or not it propagates to the root (caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[pytest.LogCaptureFixture, Records]]:
    caplog.set_level(logging.DEBUG)  # the root: every library (azure, urllib3, kubernetes) at DEBUG too
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    ours = Records()
    logging.getLogger(LOGGER_NAME).addHandler(ours)
    yield caplog, ours
    logging.getLogger(LOGGER_NAME).removeHandler(ours)


def texts_of(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage(), repr(record.args), repr(getattr(record, "sc", None)), record.exc_text or ""]
    if record.exc_info:
        texts.append("".join(traceback.format_exception(*record.exc_info)))
    return texts


def assert_no_secret(logs, reports, *outputs: str, secret: str = PASSWORD) -> None:
    caplog, ours = logs
    records = caplog.records + ours.records
    assert records and ours.records  # something was logged, ours included: the check below is not vacuous
    assert [r.getMessage()[:200] for r in records if any(secret in t for t in texts_of(r))] == []
    assert [r.getMessage()[:200] for r in ours.records if REDACTED in r.getMessage()] == []  # never even redacted
    for report in reports:
        assert secret not in json.dumps(report.to_dict(), default=str)
        assert secret not in report.summary()
        assert all(secret not in f"{f.message} {f.fix} {f.resource_id}" for f in report.findings)
    assert all(secret not in output for output in outputs)


def secret_name(estate) -> str:
    [linker] = [linker for linker in estate.linkers() if linker["properties"]["authInfo"]["authType"] == "secret"]
    return f"sc-{linker['name'].replace('_', '').replace('.', '')}-secret".lower()


def test_the_password_flows_to_the_cluster_and_into_no_log_report_or_output(estate, app, admin, logs, tmp_path, capsys):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    events = estate.new_events()
    reports = [app.events.handle(events)]
    assert reports[0].ok, reports[0].summary()
    # the value did go through the app: Key Vault -> the app -> Service Connector -> the cluster's secret
    assert secret_values(estate.secret(secret_name(estate)))["AZURE_SQL_PASSWORD"] == PASSWORD
    reports += [app.applier.apply(), app.applier.plan(), app.events.handle(events)]
    sweep = report_module.to_json(app.sweeper.run())  # the sweep reads the connection's own secret (key names)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    assert main(["--verbose", "--output", "json", "handle-event", str(path)]) == 0
    assert main(["--verbose", "plan"]) == 0
    captured = capsys.readouterr()
    assert_no_secret(logs, reports, json.dumps(sweep), captured.out, captured.err)


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param([{"kind": "status", "status": 400, "service": "arm", "method": "PUT", "path": "/linkers/scap_"}],
                     id="linker-put-refused"),
        pytest.param([{"kind": "status", "status": 403, "service": "arm", "method": "PUT", "path": "/linkers/scap_"}],
                     id="linker-put-forbidden"),
        pytest.param([{"kind": "status", "status": 422, "service": "kube", "method": "PATCH",
                       "path": "/deployments/api$"}], id="workload-patch-refused"),
    ],
)  # fmt: skip
def test_failures_after_the_password_was_read_do_not_carry_it(faults, estate, app, admin, logs):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    admin.post("faults", faults)
    report = app.events.handle(estate.new_events())
    assert not report.ok and any(o.status == "failed" for run in report.runs for o in run.outcomes)
    keyvault = [r for r in admin.requests_since(0) if r["service"] == "keyvault" and r["status"] == 200]
    assert keyvault  # the password was read before the failure
    assert_no_secret(logs, [report])


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(PASSWORD, id="the-password-itself"),
        pytest.param(f"https://{PASSWORD}@kv-shop.vault.azure.net/secrets/sql-orders-password", id="in-userinfo"),
        pytest.param(f"https://kv-shop.vault.azure.net/secrets/{PASSWORD}", id="as-the-secret-name"),
        pytest.param(f"https://kv-shop.vault.azure.net/secrets/x?{PASSWORD}", id="in-the-query"),
    ],
)
def test_a_password_pasted_into_the_tag_is_never_echoed(value, estate, app, admin, logs):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, {**SQL_TAGS, "sc-sql-password": value})
    mark = admin.mark()
    report = app.events.handle(estate.new_events())
    assert [f.tag for f in report.findings if f.resource_id.lower() == DATABASE.lower()] == ["sc-sql-password"]
    assert [r for r in admin.requests_since(mark) if r["service"] == "keyvault"] == []  # refused before any read
    assert_no_secret(logs, [report])
