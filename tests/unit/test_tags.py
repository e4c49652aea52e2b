"""The tag contract: valid tags parse, invalid ones give a finding naming the tag and the fix, nothing raises."""

from __future__ import annotations

import pytest

from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, TargetKind, WorkloadSpec
from shared.core.tags import ClusterTags, parse_cluster_tags, parse_target_tags

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
        ("sc-workloads", "deployment/api\n:app"),
        ("sc-workloads", "deployment/api:"),
        ("sc-workloads", "deployment/api:App"),
        ("sc-workloads", "job/a b"),
        ("sc-workloads", ",".join(f"deploy/w{i}" for i in range(21))),
        ("sc-namespace", "Shop"),
        ("sc-namespace", "kube-system"),
        ("sc-namespace", "shop\nx"),
        ("sc-auth", "password"),
        ("sc-client-type", "cobol"),
        ("sc-sql-password", "hunter2"),
        ("sc-sql-password", "https://evil.example.com/secrets/pw"),
        ("sc-sql-password", "http://kv-shop.vault.azure.net/secrets/pw"),
        ("sc-sql-password", "https://kv-shop.vault.azure.net/keys/pw"),
        ("sc-sql-password", "https://kv-shop.vault.azure.net.evil.com/secrets/pw"),
        ("sc-sql-password", "https://user@kv-shop.vault.azure.net/secrets/pw"),
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


def test_cluster_identity_rejects_a_hidden_newline():
    tags, findings = parse_cluster_tags(CLUSTER, {"sc-group": "shop", "sc-identity": "rg\n/id-a"})
    assert tags is None and [f.tag for f in findings] == ["sc-identity"]


def test_key_vault_url_with_version_and_a_sovereign_suffix():
    url = "https://kv-shop.vault.azure.cn/secrets/pw/0123456789abcdef0123456789abcdef"
    tags, findings = parse_target_tags(
        DB, TargetKind.SQL_DATABASE, {**SQL, "sc-sql-password": url}, vault_suffixes=("vault.azure.cn",)
    )
    assert findings == [] and tags.sql_password_url == url
    _, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {**SQL, "sc-sql-password": url})
    assert [f.tag for f in findings] == ["sc-sql-password"]


def test_sql_credentials_are_only_required_for_secret_auth():
    tags, findings = parse_target_tags(
        DB, TargetKind.SQL_DATABASE, {"sc-group": "shop", "sc-auth": "Workload-Identity"}
    )
    assert findings == [] and tags.auth is AuthKind.WORKLOAD_IDENTITY and tags.sql_password_url is None
    _, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {"sc-group": "shop"})
    assert {f.tag for f in findings} == {"sc-sql-user", "sc-sql-password"}


def test_the_finding_names_the_resource_the_tag_and_the_fix_without_echoing_a_password():
    _, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {**SQL, "sc-sql-password": "P@ssw0rd!"})
    (finding,) = findings
    assert finding.resource_id == DB.id and finding.tag == "sc-sql-password" and "vault" in finding.fix
    assert "P@ssw0rd!" not in finding.message + finding.fix


def test_groups_match_case_insensitively_and_pause_is_case_insensitive():
    tags, _ = parse_cluster_tags(CLUSTER, {"SC-GROUP": " Shop ,BILLING,", "sc-pause": "True"})
    assert tags.groups == {"shop", "billing"} and tags.paused
    tags, _ = parse_cluster_tags(CLUSTER, {"sc-group": "shop", "sc-pause": "yes"})
    assert not tags.paused


def test_a_value_that_is_not_a_string_reads_as_an_empty_tag_and_garbage_as_no_tags():
    garbage = {**SQL, "sc-workloads": 5, "sc-pause": True, "sc-namespace": None, 7: "x"}
    clean = {**SQL, "sc-workloads": "", "sc-pause": "", "sc-namespace": ""}
    assert parse_target_tags(DB, TargetKind.SQL_DATABASE, garbage) == parse_target_tags(
        DB, TargetKind.SQL_DATABASE, clean
    )
    assert parse_target_tags(DB, TargetKind.SQL_DATABASE, clean)[0] is not None
    for not_tags in (None, 3, ["sc-group"], "sc-group=shop"):
        assert parse_cluster_tags(CLUSTER, not_tags) == (ClusterTags(frozenset(), False, None), [])
