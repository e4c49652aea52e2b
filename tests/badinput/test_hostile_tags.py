"""Hostile tag values: each gives a finding naming the resource and the tag, and nothing is written outside the
intended scope (no write to a protected namespace, no patch of a workload no valid tag names, no linker for an
invalid target, nothing deleted).

Pure layer: the tag parsers, one case per input. End-to-end layer: the same inputs set on the demo SQL database and
cluster with the real tag API, then the events handled, one cloud per category.
"""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError

from shared.config import DEFAULT_PROTECTED_NAMESPACES
from shared.core.ids import ResourceRef
from shared.core.model import TargetKind
from shared.core.tags import SecretUrlError, parse_cluster_tags, parse_target_tags, split_secret_url
from tests.badinput.conftest import RECORD_VERSION, assert_writes_within, bystanders, writes_since
from tests.badinput.hostile import (
    CLUSTER_TAG_CATEGORIES,
    CLUSTER_TAGS_HOSTILE,
    KV,
    PASSWORD_URLS,
    TARGET_TAG_CATEGORIES,
    TARGET_TAGS,
)
from tests.conftest import CLUSTER, DATABASE, OPENAI
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, PASSWORD, SQL_TAGS, env_from_secrets

DB_REF, CLUSTER_REF = ResourceRef(DATABASE), ResourceRef(CLUSTER)
MAX_MESSAGE = 300


def assert_names_the_tag(findings, resource: str, tag: str, value: str) -> None:
    mine = [f for f in findings if f.tag == tag and f.resource_id.lower() == resource.lower()]
    assert mine, [(f.code, f.tag, f.message) for f in findings]
    for finding in mine:
        assert finding.fix and finding.message.isprintable() and len(finding.message) <= MAX_MESSAGE
        if tag == "sc-sql-password":  # the one tag that might hold a secret by mistake: never echoed
            assert value not in finding.message + finding.fix


# -- pure ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("tag", "value"), TARGET_TAGS)
def test_a_hostile_target_tag_gives_one_finding_naming_it(tag, value):
    tags, findings = parse_target_tags(DB_REF, TargetKind.SQL_DATABASE, {**SQL_TAGS, tag: value},
                                       protected_namespaces=DEFAULT_PROTECTED_NAMESPACES)  # fmt: skip
    assert tags is None and [f.tag for f in findings] == [tag]
    assert_names_the_tag(findings, DATABASE, tag, value)


@pytest.mark.parametrize("url", PASSWORD_URLS)
def test_a_key_vault_url_pointing_elsewhere_is_refused(url):
    with pytest.raises(SecretUrlError):
        split_secret_url(url, ("vault.azure.net",))
    tags, findings = parse_target_tags(DB_REF, TargetKind.SQL_DATABASE, {**SQL_TAGS, "sc-sql-password": url})
    assert tags is None and [f.tag for f in findings] == ["sc-sql-password"]
    assert_names_the_tag(findings, DATABASE, "sc-sql-password", url)


@pytest.mark.parametrize(("tag", "value"), CLUSTER_TAGS_HOSTILE)
def test_a_hostile_cluster_tag_gives_one_finding_naming_it(tag, value):
    tags, findings = parse_cluster_tags(CLUSTER_REF, {**CLUSTER_TAGS, tag: value})
    assert tags is None and [f.tag for f in findings] == [tag]
    assert_names_the_tag(findings, CLUSTER, tag, value)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        pytest.param("sc-workloads", "ds/" + "a" * 253, id="workloads-256-chars-name-253"),
        pytest.param("sc-workloads", ",".join(f"ds/w{i:02}" for i in range(20)), id="workloads-20-entries"),
        pytest.param("sc-namespace", "n" * 63, id="namespace-63-chars"),
        pytest.param("sc-group", "g" * 63, id="group-63-chars"),
        pytest.param("sc-sql-user", "u" * 128, id="sql-user-128-chars"),
        pytest.param("sc-sql-password", KV + "/0123456789abcdef0123456789ABCDEF", id="kv-with-version"),
        pytest.param("sc-sql-password", "https://KV-SHOP.vault.azure.net:443/secrets/" + "s" * 127, id="kv-limits"),
        pytest.param("sc-workloads", " deploy/api:app , ,sts/worker ,", id="workloads-spaces-and-empty-entries"),
    ],
)
def test_values_at_the_limits_are_accepted_whole(tag, value):
    tags, findings = parse_target_tags(DB_REF, TargetKind.SQL_DATABASE, {**SQL_TAGS, tag: value})
    assert findings == [] and tags is not None, [f.message for f in findings]


def test_megabyte_values_and_512_character_names_do_not_break_the_parsers():
    huge = {"sc-group": "g;" * 500_000, "sc-workloads": "deploy/a," * 120_000, "sc-namespace": "n" * 1_000_000,
            "x" * 512: "ignored: not one of ours", "sc-" + "y" * 509: "also not ours"}  # fmt: skip
    tags, findings = parse_target_tags(DB_REF, TargetKind.SQL_DATABASE, {**SQL_TAGS, **huge})
    assert tags is None and {f.tag for f in findings} == {"sc-group", "sc-workloads", "sc-namespace"}
    assert all(len(f.message) <= MAX_MESSAGE for f in findings)
    tags, findings = parse_cluster_tags(CLUSTER_REF, {"sc-identity": "i" * 1_000_000, "x" * 512: "y"})
    assert tags is None and [f.tag for f in findings] == ["sc-identity"]


# -- end to end ----------------------------------------------------------------------------------------------
E2E_CATEGORIES = {
    category: [(p.id, DATABASE, *p.values) for p in TARGET_TAG_CATEGORIES[category]]
    + [(p.id, CLUSTER, *p.values) for p in CLUSTER_TAG_CATEGORIES.get(category, [])]
    for category in TARGET_TAG_CATEGORIES
}
E2E_CATEGORIES["invalid-names"].append(
    ("namespace-kube-system-naming-coredns", DATABASE, "sc-namespace", "kube-system")
)
E2E_CATEGORIES["key-vault-urls"] = [(p.id, DATABASE, "sc-sql-password", p.values[0]) for p in PASSWORD_URLS]


def connect_openai(estate, app) -> None:
    """A valid neighbour, wired before the hostile tags arrive: it must stay exactly as it is."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    assert report.ok and len(estate.linkers()) == 1, report.summary()


def snapshot(estate) -> tuple:
    return estate.linkers(), bystanders(estate), [estate.workload(k, n) for k, n in (
        ("Deployment", "api"), ("StatefulSet", "worker"), ("Deployment", "web"), ("CronJob", "report"))]  # fmt: skip


@pytest.mark.parametrize("cases", [pytest.param(v, id=k) for k, v in E2E_CATEGORIES.items()])
def test_hostile_tags_on_the_cloud_give_findings_and_write_nothing(cases, estate, app, admin):
    """One cloud per category; each hostile value is set with the real tag API (Replace), then the events are
    handled. The cluster is re-tagged too (same tags): a target's event alone reaches no cluster while its tags are
    invalid, see test_a_mis_tagged_target_alone_still_gets_its_finding."""
    assert len(cases) >= 3
    connect_openai(estate, app)
    before = snapshot(estate)
    for case_id, resource, tag, value in cases:
        hostile = {**(SQL_TAGS if resource == DATABASE else CLUSTER_TAGS), tag: value}
        if len(value) > 256:  # ARM refuses it: such a value never reaches an event (the pure layer parses it)
            with pytest.raises(HttpResponseError) as refused:
                estate.tag(resource, hostile, operation="Replace")
            assert refused.value.status_code == 400, case_id
            continue
        if case_id == "namespace-kube-system-naming-coredns":
            hostile["sc-workloads"] = "deployment/coredns"
        estate.tag(resource, hostile, operation="Replace")
        estate.tag(CLUSTER, {})  # a cluster event too (Merge of nothing: the tags stay as they are)
        mark = admin.mark()
        report = app.events.handle(estate.new_events())
        assert report.ok, (case_id, report.summary())
        assert_names_the_tag(report.findings, resource, tag, value)
        assert writes_since(admin, mark) == [], case_id
        estate.tag(resource, {} if resource == DATABASE else CLUSTER_TAGS, operation="Replace")
        estate.new_events()  # not handled: the next case starts from the same state
    assert snapshot(estate) == before


def test_a_value_at_the_256_character_limit_is_used_whole(estate, app, admin):
    """sc-workloads of exactly 256 characters names one workload of 253: valid, absent from the cluster."""
    value = "ds/" + "a" * 253
    assert len(value) == 256
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, {**SQL_TAGS, "sc-workloads": value})
    before = bystanders(estate)
    mark = admin.mark()
    report = app.events.handle(estate.new_events())
    assert report.ok, report.summary()
    [finding] = [f for f in report.findings if f.code == "WORKLOAD_NOT_FOUND"]
    assert finding.tag == "sc-workloads" and "a" * 253 in finding.message
    [linker] = estate.linkers()
    assert_writes_within(
        writes_since(admin, mark),
        [
            r"^POST .*/providers/Microsoft\.KubernetesConfiguration/register$",
            rf"^PUT .*/linkers/{linker['name']}$",
            RECORD_VERSION,
        ],
    )
    assert bystanders(estate) == before and env_from_secrets(estate.workload("Deployment", "api")) == []


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://kv-evil.vault.azure.net/secrets/sql-orders-password", id="another-vault"),
        pytest.param("https://kv-shop.vault.azure.net/secrets/not-there", id="missing-secret"),
    ],
)
def test_a_vault_url_the_app_cannot_read_is_a_finding_naming_the_tag(url, estate, app, admin):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, {**SQL_TAGS, "sc-sql-password": url})
    mark = admin.mark()
    report = app.events.handle(estate.new_events())
    [finding] = [f for f in report.findings if f.tag == "sc-sql-password"]
    assert finding.code == "KEYVAULT_SECRET_UNREADABLE" and finding.resource_id.lower() == DATABASE.lower()
    assert url in finding.message and "Key Vault Secrets User" in finding.fix
    assert estate.linkers() == []  # no linker without its password
    assert_writes_within(
        writes_since(admin, mark), [r"^POST .*/providers/Microsoft\.KubernetesConfiguration/register$"]
    )


def test_a_wired_target_retagged_with_hostile_values_is_held_as_it_is(estate, app, admin):
    """The README's promise: an invalid tag holds the target, its existing wiring is left exactly as it is."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    assert app.events.handle(estate.new_events()).ok
    before = snapshot(estate)
    assert env_from_secrets(before[2][0])  # api is wired
    hostile = [
        ("sc-namespace", "kube-system"),
        ("sc-workloads", "deployment/../kube-system/coredns"),
        ("sc-workloads", "deployment/api;rm -rf /"),
        ("sc-sql-password", "https://kv-shop.vault.azure.net.evil.com/secrets/sql-orders-password"),
        ("sc-sql-password", PASSWORD),
        ("sc-group", "shop\u200b"),
    ]
    for tag, value in hostile:
        estate.tag(DATABASE, {**SQL_TAGS, tag: value}, operation="Replace")
        mark = admin.mark()
        report = app.events.handle(estate.new_events())  # the target's event alone: it still holds a linker
        assert_names_the_tag(report.findings, DATABASE, tag, value)
        assert writes_since(admin, mark) == [], (tag, value)
        assert snapshot(estate) == before, (tag, value)


def test_a_mis_tagged_target_alone_still_gets_its_finding(estate, app, admin):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    assert app.events.handle(estate.new_events()).ok
    estate.tag(DATABASE, {**SQL_TAGS, "sc-workloads": "deployment/api;rm -rf /"})
    mark = admin.mark()
    report = app.events.handle(estate.new_events())
    assert writes_since(admin, mark) == []
    assert_names_the_tag(report.findings, DATABASE, "sc-workloads", "deployment/api;rm -rf /")
