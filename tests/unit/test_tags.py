"""The tag contract: valid tags parse, invalid ones give a finding naming the tag and the fix, nothing raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.model import AuthKind, ResourceRef, TargetKind, WorkloadSpec
from shared.tags import parse_cluster_tags, parse_target_tags

RG = "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg"
DB = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/d")
OPENAI = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/a")
CLUSTER = ResourceRef(f"{RG}/providers/Microsoft.ContainerService/managedClusters/c")
URL = "https://kv-shop.vault.azure.net/secrets/pw"
SQL = {"sc-group": "Shop, billing", "sc-sql-user": "app", "sc-sql-password": URL}


def test_sql_target_defaults_and_workloads():
    tags, findings = parse_target_tags(
        DB, TargetKind.SQL_DATABASE, {**SQL, "SC-Workloads": "deploy/api:app, sts/worker,cronjob/report"}
    )
    assert findings == []
    assert tags.groups == {"shop", "billing"} and tags.namespace == "default" and tags.auth is AuthKind.SECRET
    assert tags.workloads == (
        WorkloadSpec("CronJob", "report"),
        WorkloadSpec("Deployment", "api", "app"),
        WorkloadSpec("StatefulSet", "worker"),
    )
    assert tags.client_type == "python" and tags.sql_password_url == URL


def test_openai_defaults_to_workload_identity():
    tags, _ = parse_target_tags(OPENAI, TargetKind.OPENAI, {"sc-group": "shop", "sc-client-type": "SPRINGBOOT"})
    assert tags.auth is AuthKind.WORKLOAD_IDENTITY and tags.client_type == "springBoot"


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        ("sc-workloads", "pod/api"),
        ("sc-workloads", "deployment/api;rm -rf /"),
        ("sc-workloads", "deployment/../kube-system/x"),
        ("sc-workloads", "deployment/API"),
        ("sc-namespace", "Shop"),
        ("sc-namespace", "kube-system"),
        ("sc-auth", "password"),
        ("sc-client-type", "cobol"),
        ("sc-sql-password", "hunter2"),
        ("sc-sql-password", "https://evil.example.com/secrets/pw"),
        ("sc-sql-password", "http://kv-shop.vault.azure.net/secrets/pw"),
        ("sc-sql-user", ""),
        ("sc-group", "a b"),
    ],
)
def test_invalid_tags_give_a_finding_naming_the_tag(tag, value):
    tags, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {**SQL, tag: value},
                                       protected_namespaces=("kube-system",))  # fmt: skip
    assert tags is None
    assert [f.tag for f in findings] == [tag] and findings[0].fix and findings[0].resource_id == DB.id
    assert "hunter2" not in findings[0].message


def test_pause_wins_over_bad_tags():
    tags, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {"sc-pause": "TRUE", "sc-workloads": "x"})
    assert tags is not None and tags.paused and findings


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("id-a", f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-a"),
        ("other-rg/id-a", "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/other-rg/providers/"
                          "Microsoft.ManagedIdentity/userAssignedIdentities/id-a"),
        (f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x",
         f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"),
    ],
)  # fmt: skip
def test_cluster_identity_forms(value, expected):
    tags, findings = parse_cluster_tags(CLUSTER, {"sc-group": "shop", "sc-identity": value})
    assert findings == [] and tags.identity == ResourceRef(expected)


def test_cluster_identity_must_be_a_user_assigned_identity():
    tags, findings = parse_cluster_tags(CLUSTER, {"sc-identity": f"{RG}/providers/Microsoft.Sql/servers/s"})
    assert tags is None and findings[0].tag == "sc-identity"


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=300), max_size=12))
def test_parsers_are_total(tags):
    for kind, ref in ((TargetKind.SQL_DATABASE, DB), (TargetKind.OPENAI, OPENAI)):
        parse_target_tags(ref, kind, tags)
    parse_cluster_tags(CLUSTER, tags)


@given(st.one_of(st.none(), st.integers(), st.lists(st.text()), st.dictionaries(st.integers(), st.integers())))
def test_parsers_accept_garbage(garbage):
    parse_target_tags(DB, TargetKind.SQL_DATABASE, garbage)
    parse_cluster_tags(CLUSTER, garbage)
