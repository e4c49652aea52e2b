"""The report's JSON: versioned, every code in the schema, counts that agree with the lists they count."""

from __future__ import annotations

import jsonschema

from shared import report
from shared.core.codes import Code
from shared.core.verdicts import VERDICT_OF, WORST_FIRST
from tests.browser.estate import large_report


def test_the_schema_lists_every_code_and_every_reason_code():
    properties = report.schema()["properties"]
    assert properties["schemaVersion"] == {"const": report.SCHEMA_VERSION} == {"const": 2}
    assert properties["findings"]["items"]["properties"]["code"]["enum"] == sorted(c.value for c in Code)
    reasons = properties["connections"]["items"]["properties"]["reasons"]["items"]["properties"]["code"]["enum"]
    assert sorted(reasons) == sorted(c.value for c in VERDICT_OF)


def test_a_large_report_validates_and_its_counts_agree():
    document = large_report()
    jsonschema.validate(document, report.schema())
    summary = document["summary"]
    assert list(summary["verdicts"]) == [s.value for s in WORST_FIRST]
    assert sum(summary["verdicts"].values()) == summary["connections"] == len(document["connections"])
    assert summary["orphanedObjects"] == len(document["orphans"]) and summary["findings"] == len(document["findings"])
    assert summary["changes"] == len(document["changes"]) and summary["clusters"] == len(document["byCluster"]) == 300
    for cluster, counts in document["byCluster"].items():
        assert sum(counts.values()) == sum(c["cluster"] == cluster for c in document["connections"])
