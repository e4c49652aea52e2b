"""The tag contract: valid tags parse, invalid ones give a finding naming the tag and the fix, nothing raises."""

from __future__ import annotations

import pytest

from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, TargetKind, WorkloadSpec
from shared.core.tags import (
    ClusterTags,
    SecretUrlError,
    TargetConnection,
    TargetTags,
    declared_groups,
    parse_cluster_tags,
    parse_target_tags,
    split_secret_url,
)

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
    assert tags.groups == {"shop", "billing"} and tags.namespace == "default"
    assert tags.connections == (TargetConnection(TargetKind.SQL_DATABASE, DB.id, AuthKind.SECRET, "python"),)
    assert tags.workloads == (
        WorkloadSpec("CronJob", "report"),
        WorkloadSpec("Deployment", "api", "app"),
        WorkloadSpec("StatefulSet", "worker"),
    )
    assert tags.user == "app" and tags.password_url == URL


def test_openai_defaults_to_workload_identity():
    tags, _ = parse_target_tags(OPENAI, TargetKind.OPENAI, {"sc-group": "shop", "sc-client-type": "DOTNET"})
    assert tags.connections == (TargetConnection(TargetKind.OPENAI, OPENAI.id, AuthKind.WORKLOAD_IDENTITY, "dotnet"),)


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
    assert findings == [] and tags.password_url == url
    _, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {**SQL, "sc-sql-password": url})
    assert [f.tag for f in findings] == ["sc-sql-password"]


def test_sql_credentials_are_only_required_for_secret_auth():
    tags, findings = parse_target_tags(
        DB, TargetKind.SQL_DATABASE, {"sc-group": "shop", "sc-auth": "Workload-Identity"}
    )
    assert findings == [] and tags.connections[0].auth is AuthKind.WORKLOAD_IDENTITY and tags.password_url is None
    _, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {"sc-group": "shop"})
    assert {f.tag for f in findings} == {"sc-user", "sc-password"}


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


# -- The exact findings: the message names the bad value, the fix is the operator's instruction ------------------
def _finding(ref: ResourceRef, tag: str, message: str, fix: str) -> Finding:
    return Finding(Code.TAG_INVALID, ref.id, f"tag {tag}: {message}", fix, tag=tag)


WORKLOAD_SYNTAX = (
    "use deployment|deploy, statefulset|sts, daemonset|ds, job or cronjob, e.g. deployment/api:app"
)  # fmt: skip
K8S_NAMES = "Kubernetes names are lower-case letters, digits, '-' and '.'"
VAULT_FIX = (
    "set it to https://<vault>.vault.azure.net/secrets/<name> and grant the app 'Key Vault Secrets User' on that vault"
)
LONG = "deploy/!" + "a" * 73  # 81 characters: shown as its first 80 and an ellipsis


@pytest.mark.parametrize(
    ("tag", "value", "message", "fix"),
    [
        ("sc-group", "ok, a b, c d", "group name 'a b' is not valid",
         "use letters, digits, '-', '_' or '.', at most 63 characters, comma separated"),
        ("sc-namespace", " Shop ", "'Shop' is not a Kubernetes namespace name",
         "use lower-case letters, digits and '-', at most 63 characters"),
        ("sc-namespace", "kube-system", "namespace kube-system is protected: sc-autopilot never patches or deletes "
         "there", "deploy the workloads to an application namespace, or change SC_PROTECTED_NAMESPACES"),
        ("sc-workloads", "pod/api", "'pod/api' is not kind/name[:container]", WORKLOAD_SYNTAX),
        ("sc-workloads", "deployment", "'deployment' is not kind/name[:container]", WORKLOAD_SYNTAX),
        ("sc-workloads", "deployment/", "'deployment/' is not kind/name[:container]", WORKLOAD_SYNTAX),
        ("sc-workloads", "deployment/api:", "'deployment/api:' is not kind/name[:container]", WORKLOAD_SYNTAX),
        ("sc-workloads", "deploy/API", "'deploy/API' has an invalid workload or container name", K8S_NAMES),
        ("sc-workloads", "deploy/a/b", "'deploy/a/b' has an invalid workload or container name", K8S_NAMES),
        ("sc-workloads", "deploy/api:App", "'deploy/api:App' has an invalid workload or container name", K8S_NAMES),
        ("sc-workloads", "deploy/" + "a" * 254, repr("deploy/" + "a" * 73 + "…") + " has an invalid workload or "
         "container name", K8S_NAMES),
        ("sc-workloads", "deploy/api\x07:app", "'deploy/api?:app' has an invalid workload or container name",
         K8S_NAMES),
        ("sc-workloads", LONG, repr(LONG[:80] + "…") + " has an invalid workload or container name", K8S_NAMES),
        ("sc-workloads", LONG[:80], repr(LONG[:80]) + " has an invalid workload or container name", K8S_NAMES),
        ("sc-workloads", ",".join(f"deploy/w{i}" for i in range(21)), "names 21 workloads; at most 20",
         "split the target or the group"),
        ("sc-auth", " Password ", "'password' is not an auth type", "use one of secret, workload-identity, csi"),
        ("sc-auth", "csi", "Azure SQL Database does not allow csi for an AKS source",
         "use one of secret, workload-identity"),
        ("sc-client-type", "cobol", "'cobol' is not a Service Connector client type",
         "use one of none, dotnet, java, python, go, php, ruby, django, nodejs, springBoot, kafka-springBoot"),
        ("sc-client-type", "kafka-springBoot", "Azure SQL Database has no client type kafka-springBoot",
         "use one of dotnet, java, python, nodejs, go, php, ruby, django, springBoot, none"),
        ("sc-sql-user", "", "missing or not a user name",
         "set sc-sql-user to the database user the app logs in as"),
        ("sc-sql-user", "1app", "missing or not a user name",
         "set sc-sql-user to the database user the app logs in as"),
        ("sc-user", "someone-else", "sc-user and its alias sc-sql-user disagree", "keep only sc-user"),
        ("sc-database", "orders", "Azure SQL Database takes no database",
         "remove sc-database: the connection is to the whole resource"),
        ("sc-service", "blob", "Azure SQL Database has no services to choose",
         "remove sc-service: it is for storage accounts"),
        ("sc-sql-password", "hunter2", "must be a Key Vault secret URL, never a password", VAULT_FIX),
    ],
)  # fmt: skip
def test_each_bad_tag_gives_exactly_its_finding(tag, value, message, fix):
    tags, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {**SQL, tag: value},
                                       protected_namespaces=("kube-system",))  # fmt: skip
    assert tags is None
    assert findings == [_finding(DB, tag, message, fix)]


def test_the_vault_fix_names_the_clouds_first_vault_suffix():
    _, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {**SQL, "sc-sql-password": "x"},
                                    vault_suffixes=("vault.azure.cn", "vault.azure.net"))  # fmt: skip
    assert [f.fix for f in findings] == [
        "set it to https://<vault>.vault.azure.cn/secrets/<name> and grant the app 'Key Vault Secrets User' on that "
        "vault"
    ]


@pytest.mark.parametrize("value", ["a/b/c", "/subscriptions/x", "rg/ab", "bad rg!/id-a", "-bad", "rg./id-a"])
def test_a_bad_identity_gives_exactly_its_finding(value):
    tags, findings = parse_cluster_tags(CLUSTER, {"sc-group": "shop", "sc-identity": value})
    assert tags is None
    assert findings == [
        _finding(CLUSTER, "sc-identity", f"{value!r} is not a user-assigned managed identity",
                 "give its full resource id, <resource-group>/<name>, or <name> in the cluster's resource group")
    ]  # fmt: skip


def test_an_identity_id_keeps_the_spelling_the_cluster_api_expects():
    tags, _ = parse_cluster_tags(CLUSTER, {"sc-identity": " other-rg/id-a "})
    assert tags.identity.id == (
        "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/other-rg"
        "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-a"
    )


# -- What valid tags ask for, whole ---------------------------------------------------------------------------
def test_valid_target_tags_parse_whole():
    tags, findings = parse_target_tags(
        DB,
        TargetKind.SQL_DATABASE,
        {" SC-Group ": "Shop", "sc-namespace": " shop ", "sc-workloads": "DEPLOY /api:0, deploy/api, deployment/api",
         "sc-auth": " Secret ", "sc-client-type": " JAVA ", "sc-sql-user": " app ", "sc-sql-password": f" {URL} "},
    )  # fmt: skip
    assert findings == []
    assert tags == TargetTags(
        groups=frozenset({"shop"}),
        paused=False,
        namespace="shop",
        workloads=(WorkloadSpec("Deployment", "api"), WorkloadSpec("Deployment", "api", "0")),
        connections=(TargetConnection(TargetKind.SQL_DATABASE, DB.id, AuthKind.SECRET, "java"),),
        user="app",
        password_url=URL,
        password_tag="sc-sql-password",
    )


def test_an_openai_account_with_secret_auth_needs_no_sql_credentials():
    tags, findings = parse_target_tags(OPENAI, TargetKind.OPENAI, {"sc-group": "shop", "sc-auth": "secret"})
    assert findings == []
    wanted = (TargetConnection(TargetKind.OPENAI, OPENAI.id, AuthKind.SECRET, "python"),)
    assert tags == TargetTags(frozenset({"shop"}), False, "default", (), wanted, None, None)


def test_twenty_workloads_are_allowed_and_names_up_to_253_characters():
    names = ",".join(f"deploy/w{i}" for i in range(19)) + ",sts/" + "a" * 253
    tags, findings = parse_target_tags(OPENAI, TargetKind.OPENAI, {"sc-workloads": names})
    assert findings == [] and len(tags.workloads) == 20
    assert WorkloadSpec("StatefulSet", "a" * 253) in tags.workloads


def test_a_target_without_tags_asks_for_nothing_but_still_parses():
    tags, findings = parse_target_tags(OPENAI, TargetKind.OPENAI, {})
    assert findings == []
    wanted = (TargetConnection(TargetKind.OPENAI, OPENAI.id, AuthKind.WORKLOAD_IDENTITY, "python"),)
    assert tags == TargetTags(frozenset(), False, "default", (), wanted, None, None)


def test_a_paused_target_keeps_what_is_valid_and_falls_back_for_the_rest():
    tags, findings = parse_target_tags(
        DB, TargetKind.SQL_DATABASE,
        {"sc-pause": " true ", "sc-group": "shop", "sc-workloads": ",".join(f"deploy/w{i}" for i in range(21)),
         "sc-client-type": "cobol", "sc-auth": "x", "sc-sql-user": "app", "sc-sql-password": URL},
    )  # fmt: skip
    assert [f.tag for f in findings] == ["sc-workloads", "sc-auth", "sc-client-type"]
    wanted = (TargetConnection(TargetKind.SQL_DATABASE, DB.id, AuthKind.SECRET, "python"),)
    assert tags == TargetTags(frozenset({"shop"}), True, "default", (), wanted, "app", URL, "sc-sql-password")


def test_a_paused_sql_target_without_credentials_keeps_them_empty():
    tags, findings = parse_target_tags(DB, TargetKind.SQL_DATABASE, {"sc-pause": "true"})
    assert [f.tag for f in findings] == ["sc-user", "sc-password"]
    assert (tags.paused, tags.user, tags.password_url) == (True, None, None)


def test_a_paused_cluster_with_a_bad_identity_is_kept_paused_without_one():
    tags, findings = parse_cluster_tags(CLUSTER, {"sc-group": "shop", "sc-pause": "true", "sc-identity": "a/b/c"})
    assert tags == ClusterTags(frozenset({"shop"}), True, None) and [f.tag for f in findings] == ["sc-identity"]


def test_a_cluster_without_tags_has_no_groups_and_no_identity():
    assert parse_cluster_tags(CLUSTER, {"sc-pause": "false"}) == (ClusterTags(frozenset(), False, None), [])


def test_declared_groups_are_the_valid_names_even_when_other_groups_are_not():
    assert declared_groups({" SC-GROUP ": " Shop ,BILLING,bad name,, x!"}) == {"shop", "billing"}
    assert declared_groups({"sc-namespace": "shop"}) == frozenset()
    assert declared_groups(None) == frozenset()


# -- Key Vault secret URLs: what is accepted, and what the refusal says (it reaches the operator's finding) -------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://kv-shop.vault.azure.net/secrets/pw", ("https://kv-shop.vault.azure.net", "pw", None)),
        ("https://KV-Shop.Vault.Azure.Net:443/secrets/pw/", ("https://kv-shop.vault.azure.net", "pw", None)),
        ("https://kvx.vault.azure.cn/secrets/pw/0123456789abcdef0123456789ABCDEF",
         ("https://kvx.vault.azure.cn", "pw", "0123456789abcdef0123456789ABCDEF")),
        (f"https://{'k' * 24}.vault.azure.net/secrets/{'p' * 127}",
         (f"https://{'k' * 24}.vault.azure.net", "p" * 127, None)),
    ],
)  # fmt: skip
def test_secret_urls_split_into_vault_name_and_version(url, expected):
    assert split_secret_url(url, ("vault.azure.net", "VAULT.AZURE.CN")) == expected


def test_a_host_outside_every_allowed_vault_domain_names_them_all():
    with pytest.raises(SecretUrlError) as refused:
        split_secret_url("https://kv-shop.example.com/secrets/pw", ("vault.azure.net", "vault.azure.cn"))
    assert str(refused.value) == "host 'kv-shop.example.com' is not a vault in vault.azure.net, vault.azure.cn"


ANY_VAULT = "expected https://<vault>.vault.azure.net/secrets/<name>[/<version>]"
BAD_PATH = "the path must be /secrets/<name>[/<version>]"
SPACE = "a URL has no whitespace or control characters"


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://kv.vault.azure.net/secrets/a b", SPACE),
        ("https://kv.vault.azure.net/secrets/a\x00", SPACE),
        ("https://kv.vault.azure.net/secrets/a\u00a0", SPACE),
        ("https://kv.vault.azure.net:x/secrets/a", "not a URL"),
        ("https://[kv.vault.azure.net/secrets/a", "not a URL"),
        ("http://kv-shop.vault.azure.net/secrets/pw", ANY_VAULT),
        ("https://kv-shop.vault.azure.net:8443/secrets/pw", ANY_VAULT),
        ("https://kv-shop.vault.azure.net/secrets/pw?api-version=7.4", ANY_VAULT),
        ("https://kv-shop.vault.azure.net/secrets/pw#x", ANY_VAULT),
        ("https://u@kv-shop.vault.azure.net/secrets/pw", ANY_VAULT),
        ("https:///secrets/pw", "host '' is not a vault in vault.azure.net"),
        ("https://kv-shop.example.com/secrets/pw", "host 'kv-shop.example.com' is not a vault in vault.azure.net"),
        ("https://vault.azure.net/secrets/pw", "host 'vault.azure.net' is not a vault in vault.azure.net"),
        ("https://kv.vault.azure.net/secrets/pw", "host 'kv.vault.azure.net' is not a vault in vault.azure.net"),
        (f"https://{'k' * 25}.vault.azure.net/secrets/pw",
         f"host '{'k' * 25}.vault.azure.net' is not a vault in vault.azure.net"),
        ("https://k_v.vault.azure.net/secrets/pw", "host 'k_v.vault.azure.net' is not a vault in vault.azure.net"),
        (f"https://{'a.' * 60}com/secrets/pw", f"host '{('a.' * 60)[:100]}' is not a vault in vault.azure.net"),
        ("https://kv-shop.vault.azure.net/keys/pw", BAD_PATH),
        ("https://kv-shop.vault.azure.net/secrets/", BAD_PATH),
        ("https://kv-shop.vault.azure.net/secrets/pw/0123", BAD_PATH),
        (f"https://kv-shop.vault.azure.net/secrets/{'p' * 128}", BAD_PATH),
    ],
)  # fmt: skip
def test_a_bad_secret_url_is_refused_with_its_reason(url, error):
    with pytest.raises(SecretUrlError) as refused:
        split_secret_url(url, ("vault.azure.net",))
    assert str(refused.value) == error
