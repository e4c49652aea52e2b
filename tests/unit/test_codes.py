"""Every code has one severity and a one-line meaning, and a Finding's severity is its code's."""

from shared.core.codes import CATALOGUE, Code, Finding, Severity


def test_every_code_is_catalogued_once_with_a_meaning():
    assert set(CATALOGUE) == set(Code)
    for code in Code:
        assert code == code.name and code.doc and "\n" not in code.doc
        assert isinstance(code.severity, Severity)


def test_a_finding_takes_its_severity_from_its_code():
    finding = Finding(Code.WORKLOAD_NOT_FOUND, "/subscriptions/s", "gone", "fix it", "sc-workloads")
    assert finding.severity is Severity.ERROR
    assert finding.to_dict()["severity"] == "error" and finding.to_dict()["code"] == "WORKLOAD_NOT_FOUND"


def test_the_readme_lists_every_code_with_its_severity():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in Code:
        assert f"| `{code}` | {code.severity.value} |" in readme, f"README's Codes table lacks {code}"
