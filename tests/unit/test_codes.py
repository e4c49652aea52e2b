"""Every code has one severity and a one-line meaning, and a Finding's severity is its code's."""

import pytest

from shared.core.codes import CATALOGUE, Code, Finding, ReadFailure, Severity


def test_every_code_is_catalogued_once_with_a_meaning():
    assert set(CATALOGUE) == set(Code)
    for code in Code:
        assert code == code.name and code.doc and "\n" not in code.doc
        assert isinstance(code.severity, Severity)


def test_a_finding_takes_its_severity_from_its_code():
    finding = Finding(Code.WORKLOAD_NOT_FOUND, "/subscriptions/s", "gone", "fix it", "sc-workloads")
    assert finding.severity is Severity.ERROR
    assert finding.to_dict()["severity"] == "error" and finding.to_dict()["code"] == "WORKLOAD_NOT_FOUND"


def test_the_codes_page_lists_every_code_with_its_severity():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "codes.md").read_text()
    for code in Code:
        assert f"| `{code}` | {code.severity.value} |" in page, f"docs/codes.md's table lacks {code}"


def test_a_finding_as_json():
    finding = Finding(Code.SA_CONFLICT, "/subscriptions/s", "runs as x", "remove x", "sc-workloads")
    assert finding.to_dict() == {
        "severity": "warning",
        "code": "SA_CONFLICT",
        "resource": "/subscriptions/s",
        "tag": "sc-workloads",
        "message": "runs as x",
        "fix": "remove x",
    }
    assert Finding(Code.PAUSED, "r", "m", "f").to_dict()["tag"] is None
    assert [Severity(s) for s in ("info", "warning", "error")] == [Severity.INFO, Severity.WARNING, Severity.ERROR]
    assert (Code.PAUSED.severity, Code.PAUSED.doc) == CATALOGUE[Code.PAUSED]


RETRIED = "the API was unavailable or timed out: retried on the next run; check the service's health"


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        (401, "grant the app's identity read access for the linkers on /subscriptions/s/x"),
        (403, "grant the app's identity read access for the linkers on /subscriptions/s/x"),
        (429, "the API throttled the app beyond its retries: retried on the next run (lower SC_CONCURRENCY)"),
        (None, RETRIED),
        (408, RETRIED),
        (500, RETRIED),
        (503, RETRIED),
        (499, "check the linkers of /subscriptions/s/x (Oops); retried on the next run"),
        (404, "check the linkers of /subscriptions/s/x (Oops); retried on the next run"),
    ],
)
def test_a_failed_read_says_how_to_fix_it_by_status(status, fix):
    failure = ReadFailure("linkers", "/subscriptions/s/x", status, "Oops")
    assert failure.fix == fix
    assert failure.finding() == Finding(Code.READ_FAILED, "/subscriptions/s/x", failure.finding().message, fix)


def test_a_failed_reads_finding_names_the_read_the_status_and_a_bounded_message():
    quiet = ReadFailure("linkers", "/subscriptions/s/x", None, "ConnectionError").finding()
    assert quiet.message == "linkers failed (no answer ConnectionError); nothing depending on it was removed"
    loud = ReadFailure("identity", "/subscriptions/s/y", 404, "NotFound", "m" * 199 + "XY").finding()
    assert loud == Finding(
        Code.READ_FAILED,
        "/subscriptions/s/y",
        f"identity failed (HTTP 404 NotFound: {'m' * 199}X); nothing depending on it was removed",
        "check the identity of /subscriptions/s/y (NotFound); retried on the next run",
    )
    assert loud.severity is Severity.ERROR and loud.tag is None
