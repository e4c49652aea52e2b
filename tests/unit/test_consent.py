"""The consent contract, pure: scopes on whole segments, each owner's grant, the defaults, and the planner holding
what lacks consent (never removing it) while what is consented is planned as before."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from shared.core import consent, naming
from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.model import Connection, IdentityInfo, TargetInfo
from shared.core.orphans import ORPHANED_SINCE, CleanupPolicy, plan_releases
from shared.core.plan import AnnotateObject, DeleteLinker, DeleteObject, PutLinker, RewireWorkload
from shared.core.planner import desired_state, plan_cluster
from tests.planner_world import (
    CLUSTER,
    DB,
    IDENTITIES,
    IDENTITY,
    OPENAI,
    OPENAI_TARGET,
    RG,
    SETTINGS,
    SQL_TARGET,
    SUB,
    UAMI,
    converge,
    plan,
    simulate,
    state,
    with_keys,
    workload,
)

OTHER_RG = f"/subscriptions/{SUB}/resourceGroups/rg-other"
OTHER_CLUSTER = ResourceRef(f"{OTHER_RG}/providers/Microsoft.ContainerService/managedClusters/aks-other")


def test_scopes_match_whole_segments_case_insensitively():
    assert consent.covers(RG.upper(), DB) and consent.covers(f"/subscriptions/{SUB}/", DB)
    assert consent.covers(f" x, {DB.id.lower()} ", DB)
    assert not consent.covers(RG + "x", DB)  # rg-... never covers rg-...x
    assert not consent.covers(RG[:-1], DB)
    for nothing in ("", "*", "/", "/subscriptions", f"/subscriptions/{SUB}/resourceGroups", "rg", None, 7):
        assert not consent.covers(nothing, DB), nothing


def test_a_target_reaches_clusters_of_its_own_group_unless_its_tag_names_others():
    assert consent.target_to_cluster(DB, {}, CLUSTER) is None
    refused = consent.target_to_cluster(DB, {}, OTHER_CLUSTER)
    assert refused.code is Code.CONSENT_MISSING and refused.resource_id == DB.id
    assert f'"sc-clusters={OTHER_CLUSTER.id}"' in refused.fix
    assert consent.target_to_cluster(DB, {"SC-Clusters": OTHER_RG}, OTHER_CLUSTER) is None
    assert consent.target_to_cluster(DB, {"sc-clusters": OTHER_RG}, CLUSTER) is not None  # the tag replaces the default


def test_a_namespace_must_exist_and_name_the_target():
    missing = consent.namespace_admits({}, "shop", DB, CLUSTER)
    assert "kubectl create namespace shop" in missing.fix
    unannotated = consent.namespace_admits({"shop": {}}, "shop", DB, CLUSTER)
    assert f"kubectl annotate namespace shop --overwrite {consent.ALLOWED_TARGETS}={RG}" in unannotated.fix
    assert consent.namespace_admits({"shop": {consent.ALLOWED_TARGETS: DB.id}}, "shop", DB, CLUSTER) is None


def test_an_identity_needs_its_clusters_and_namespaces_and_a_managed_subscription():
    uami = IDENTITY.ref
    assert consent.identity_admits(uami, {"sc-namespaces": "shop, web"}, CLUSTER, "shop") is None
    assert consent.identity_admits(uami, {}, CLUSTER, "shop").resource_id == uami.id
    assert consent.identity_admits(uami, {"sc-namespaces": "shop"}, OTHER_CLUSTER, "shop") is not None
    assert (
        consent.identity_admits(uami, {"sc-namespaces": "shop", "sc-clusters": OTHER_RG}, OTHER_CLUSTER, "shop") is None
    )
    assert consent.identity_in_scope(uami, CLUSTER, frozenset({SUB})) is None
    assert consent.identity_in_scope(uami, CLUSTER, frozenset({"other"})).resource_id == CLUSTER.id


def test_a_vault_secret_version_names_its_targets():
    url = "https://kv.vault.azure.net"
    assert consent.vault_secret_admits(url, "pw", "v1", {"sc-targets": DB.id}, DB) is None
    refused = consent.vault_secret_admits(url, "pw", "v1", None, DB)
    assert "--vault-name kv --name pw --version v1" in refused.fix and refused.tag == "sc-password"


def _codes(p):
    return [f.code for f in p.findings]


def test_no_namespace_consent_plans_nothing_and_says_what_grants_it():
    refused = plan(state(workload("Deployment", "api"), namespaces={"shop": {}}), [SQL_TARGET])
    assert refused.is_empty and Code.CONSENT_MISSING in _codes(refused)


def test_a_missing_namespace_is_never_created():
    assert plan(state(workload("Deployment", "api"), namespaces={}), [SQL_TARGET]).writes == ()


def test_workload_identity_needs_the_identitys_namespace_consent():
    bare = dataclasses.replace(IDENTITY, tags={})

    desired = desired_state(state(workload("Deployment", "api")), [OPENAI_TARGET], {IDENTITY.ref: bare}, SETTINGS)
    assert desired.intents == () and OPENAI_TARGET.ref in desired.held_targets


def test_existing_wiring_that_lost_its_consent_is_held_until_the_orphan_rules_release_it():
    actual = converge(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    withdrawn = dataclasses.replace(actual, namespaces={"shop": {}})
    held = plan(withdrawn, [SQL_TARGET])
    assert held.writes == () and Code.CONSENT_MISSING in _codes(held)
    desired = desired_state(withdrawn, [SQL_TARGET], IDENTITIES, SETTINGS)
    assert desired.refused_targets == {SQL_TARGET.ref} and desired.intents == ()
    linker = actual.connections[0]
    released = plan_cluster(desired, withdrawn, SETTINGS, release=frozenset({linker.name}))
    assert {type(a) for a in released.actions} == {RewireWorkload, DeleteObject, DeleteLinker}
    paused = TargetInfo(DB, SQL_TARGET.kind, {**SQL_TARGET.tags, "sc-pause": "true"})
    desired = desired_state(actual, [paused], IDENTITIES, SETTINGS)  # held, but not for consent: never released
    assert plan_cluster(desired, actual, SETTINGS, release=frozenset({linker.name})).writes == ()


def test_the_orphan_rules_mark_then_release_a_connection_held_for_consent():
    secret = naming.secret_name(naming.linker_name(DB, "shop"))
    linker = Connection(naming.linker_name(DB, "shop"), DB.id, "secret", "shop", "python", "Succeeded")
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def releases(annotations, mode="delete", left=5):
        actual = state(connections=[linker], secrets={"shop": {secret}})
        actual = dataclasses.replace(actual, metadata={("Secret", "shop", secret): {"annotations": annotations}})
        policy = CleanupPolicy(mode, timedelta(hours=24), 5)
        return plan_releases(CLUSTER, actual, [linker], policy, now, left)

    marks, released, _, _ = releases({})
    assert [type(a) for a in marks] == [AnnotateObject] and released == frozenset()
    assert releases({ORPHANED_SINCE: "2026-11-30T12:00:00Z"})[1] == frozenset()  # within the grace period
    assert releases({ORPHANED_SINCE: "2026-11-29T00:00:00Z"}, mode="report")[1] == frozenset()
    assert releases({ORPHANED_SINCE: "2026-11-29T00:00:00Z"}, left=0)[3][0].code is Code.DELETION_CAP_REACHED
    assert releases({ORPHANED_SINCE: "2026-11-29T00:00:00Z"})[1] == {linker.name}


def test_a_linker_with_our_name_but_another_target_is_not_ours():
    name = naming.linker_name(DB, "shop")
    squatter = Connection(name, DB.id.replace("orders", "other"), "secret", "shop", "python", "Succeeded")
    result = plan(state(workload("Deployment", "api"), connections=[squatter]), [SQL_TARGET])
    assert Code.LINKER_NAME_TAKEN in _codes(result)
    assert not [a for a in result.actions if isinstance(a, PutLinker | DeleteLinker)]


def test_a_linker_with_the_old_40_bit_name_keeps_it():
    legacy = naming.legacy_linker_name(DB, "shop")
    old = Connection(legacy, DB.id, "secret", "shop", "python", "Succeeded", secret_user="app")
    actual = state(workload("Deployment", "api"), connections=[old], secrets={"shop": {naming.secret_name(legacy)}})
    result = plan(actual, [TargetInfo(DB, SQL_TARGET.kind, {**SQL_TARGET.tags, "sc-workloads": "deploy/api"})])
    assert not [a for a in result.actions if isinstance(a, PutLinker | DeleteLinker)]
    assert [a.wirings[0][0] for a in result.actions if isinstance(a, RewireWorkload)] == [legacy]


SQL_KEYS = frozenset(
    {"AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USER", "AZURE_SQL_PASSWORD"}
)
DB2 = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/billing")


def _with_keys(actual):
    """The state after the linkers were put, with the keys listConfigurations gives each connection's secret."""
    return with_keys(actual, SQL_KEYS)


def test_a_connection_never_shadows_the_workloads_own_env():
    own = workload("Deployment", "api", containers=[{"name": "api", "image": "x", "env": [
        {"name": "AZURE_SQL_SERVER", "value": "prod.database.windows.net"}]}])  # fmt: skip
    target = TargetInfo(DB, SQL_TARGET.kind, {**SQL_TARGET.tags, "sc-workloads": "deploy/api"})
    first = state(own)
    created = _with_keys(simulate(first, plan(first, [target]).actions))
    refused = plan(created, [target])
    assert not [a for a in refused.actions if isinstance(a, RewireWorkload)]
    assert [f for f in refused.findings if f.code is Code.ENV_KEY_CONFLICT and "AZURE_SQL_SERVER" in f.message]


def test_a_second_connection_with_the_same_keys_is_refused_and_existing_wiring_is_held():
    one = TargetInfo(DB, SQL_TARGET.kind, {**SQL_TARGET.tags, "sc-workloads": "deploy/api"})
    two = TargetInfo(DB2, SQL_TARGET.kind, {**SQL_TARGET.tags, "sc-workloads": "deploy/api"})
    wired = converge(state(workload("Deployment", "api")), [one])
    created = _with_keys(simulate(wired, plan(wired, [one, two]).actions))
    result = plan(created, [one, two])
    assert [f for f in result.findings if f.code is Code.ENV_KEY_CONFLICT]
    assert not [a for a in result.actions if isinstance(a, RewireWorkload)]  # the first stays, the second is not added


# -- the exact refusals: the fix is the command the owner runs, so its text is the contract ------------------------

OTHER_SUB_CLUSTER = ResourceRef(
    "/subscriptions/0ther/resourceGroups/rg-x/providers/Microsoft.ContainerService/managedClusters/aks-x"
)
VAULT = "https://kv-shop.vault.azure.net"
NO_DEFAULT = " (without the tag: only clusters in its own resource group)"


def _refusal(resource: ResourceRef, message: str, fix: str, tag: str) -> Finding:
    return Finding(Code.CONSENT_MISSING, resource.id, message, fix, tag)


def _merge(owner: ResourceRef, tag: str) -> str:
    return f'az tag update --operation merge --resource-id {owner.id} --tags "{tag}"'


def test_scopes_are_subscriptions_groups_or_resource_ids_as_lower_case_segments():
    raw = f" /Subscriptions/{SUB}/ ,/subscriptions/{SUB}/resourceGroups/RG-X, {DB.id} "
    assert consent.scopes(raw) == (
        ("subscriptions", SUB),
        ("subscriptions", SUB, "resourcegroups", "rg-x"),
        tuple(DB.id.lower().split("/")[1:]),
    )
    for nothing in (
        f"subscriptions/{SUB}",  # not a path
        f"a/subscriptions/{SUB}",
        f"/subscriptions//resourceGroups/{SUB}",  # an empty segment
        f"/subscriptions/{SUB}/resourceGroups/rg/extra",  # neither a group nor a resource id
        f"/subscriptions/{SUB}/groups/rg",
        f"/tenants/{SUB}/resourceGroups/rg",
        f"/tenants/{SUB}",
        f"/subscriptions/{SUB}/x",
        b"/subscriptions/x",
    ):
        assert consent.scopes(nothing) == (), nothing


def test_a_target_refuses_a_cluster_outside_its_group_with_the_command_that_allows_it():
    assert consent.target_to_cluster(DB, {}, OTHER_CLUSTER) == _refusal(
        DB,
        f"target orders does not allow cluster aks-other{NO_DEFAULT}",
        f"the target's owner runs: {_merge(DB, f'sc-clusters={OTHER_CLUSTER.id}')}",
        "sc-clusters",
    )
    # the tag (any case, any padding) replaces the default; the command keeps what it lists and appends the cluster
    tags = {7: RG, " SC-Clusters ": f" {OTHER_RG}, "}
    assert consent.target_to_cluster(DB, tags, CLUSTER) == _refusal(
        DB,
        "target orders does not allow cluster aks",
        f"the target's owner runs: {_merge(DB, f'sc-clusters={OTHER_RG},{CLUSTER.id}')}",
        "sc-clusters",
    )
    assert consent.target_to_cluster(
        DB, {"sc-clusters": "/subscriptions/x/resourceGroups/rg-X,"}, CLUSTER
    ).fix.endswith(f'"sc-clusters=/subscriptions/x/resourceGroups/rg-X,{CLUSTER.id}"')
    assert consent.target_to_cluster(DB, {"sc-clusters": None}, CLUSTER).fix.endswith(f'"sc-clusters={CLUSTER.id}"')
    assert consent.target_to_cluster(DB, {"sc-clusters": "  "}, CLUSTER).fix.endswith(f'"sc-clusters={CLUSTER.id}"')
    same_group = ResourceRef(CLUSTER.id.replace("/resourceGroups/rg/", "/resourceGroups/RG/"))
    assert consent.target_to_cluster(DB, {}, same_group) is None  # group names ignore case


def test_a_namespace_refuses_with_the_kubectl_command_that_admits_the_target():
    assert consent.namespace_admits({"web": {}}, "shop", DB, CLUSTER) == _refusal(
        DB,
        "namespace shop does not exist on cluster aks; sc-autopilot never creates one",
        f"the cluster's owner runs: kubectl create namespace shop && kubectl annotate namespace shop "
        f"{consent.ALLOWED_TARGETS}={RG}",
        "sc-namespace",
    )
    assert consent.namespace_admits({"shop": None}, "shop", DB, CLUSTER) == _refusal(
        DB,
        "namespace shop on cluster aks does not allow target orders",
        f"the namespace's owner runs: kubectl annotate namespace shop --overwrite {consent.ALLOWED_TARGETS}={RG}",
        "sc-namespace",
    )
    listed = {"shop": {consent.ALLOWED_TARGETS: OTHER_RG}}
    assert consent.namespace_admits(listed, "shop", DB, CLUSTER).fix.endswith(f"={OTHER_RG},{RG}")


def test_an_identity_refuses_a_cluster_or_a_namespace_with_the_command_that_allows_it():
    uami = IDENTITY.ref
    assert consent.identity_admits(uami, {"sc-namespaces": "shop"}, OTHER_CLUSTER, "shop") == _refusal(
        uami,
        f"identity id-shop does not allow cluster aks-other{NO_DEFAULT}",
        f"the identity's owner runs: {_merge(uami, f'sc-clusters={OTHER_CLUSTER.id}')}",
        "sc-identity",
    )
    assert consent.identity_admits(uami, {"sc-namespaces": " web"}, CLUSTER, "shop") == _refusal(
        uami,
        "identity id-shop does not allow namespace shop",
        f"the identity's owner runs: {_merge(uami, 'sc-namespaces=web,shop')}",
        "sc-identity",
    )
    assert consent.identity_admits(uami, {}, CLUSTER, "shop").fix.endswith('"sc-namespaces=shop"')
    assert consent.identity_admits(uami, {}, CLUSTER, "xxxx") is not None  # no tag admits no namespace at all
    assert consent.identity_admits(uami, {"SC-Namespaces": "web , SHOP "}, CLUSTER, "shop") is None


def test_an_identity_outside_the_managed_subscriptions_is_refused_on_the_cluster():
    foreign = ResourceRef(UAMI.id.replace(SUB, "0ther"))
    assert consent.identity_in_scope(foreign, CLUSTER, frozenset({SUB})) == _refusal(
        CLUSTER,
        "identity id-shop is in subscription 0ther, outside SC_SUBSCRIPTIONS",
        "tag the cluster sc-identity=<an identity in a managed subscription>, or add its subscription to "
        "SC_SUBSCRIPTIONS",
        "sc-identity",
    )
    assert consent.identity_in_scope(ResourceRef(UAMI.id.replace(SUB, SUB.upper())), CLUSTER, frozenset({SUB})) is None


def test_a_vault_secret_refuses_a_target_with_the_command_that_allows_it():
    assert consent.vault_secret_admits(VAULT, "pw", "v1", {"sc-targets": OTHER_RG}, DB) == _refusal(
        DB,
        "Key Vault secret kv-shop/pw (version v1) does not allow target orders",
        "the vault's owner runs: az keyvault secret set-attributes --vault-name kv-shop --name pw --version v1 "
        f'--tags "sc-targets={OTHER_RG},{DB.id}"',
        "sc-password",
    )
    assert consent.vault_secret_admits(VAULT, "pw", "v1", {"SC-Targets": f"/subscriptions/{SUB}"}, DB) is None


def test_an_identity_outside_the_managed_subscriptions_is_never_used_even_if_it_consents():
    foreign = IdentityInfo(ResourceRef(UAMI.id.replace(SUB, "0ther")), "c", "p", {"sc-clusters": CLUSTER.id,
                           "sc-namespaces": "shop"})  # fmt: skip
    actual = state(workload("Deployment", "api"), cluster_tags={"sc-group": "shop", "sc-identity": foreign.ref.id})
    desired = desired_state(actual, [OPENAI_TARGET], {foreign.ref: foreign}, SETTINGS)
    assert desired.intents == () and desired.refused_targets == {OPENAI_TARGET.ref}
    assert desired.findings == (consent.identity_in_scope(foreign.ref, CLUSTER, SETTINGS.managed_subscriptions),)


def test_a_refusal_never_hides_the_findings_of_earlier_targets():
    bad = TargetInfo(OPENAI, OPENAI_TARGET.kind, {**OPENAI_TARGET.tags, "sc-auth": "bogus"})  # sorted before DB
    desired = desired_state(state(workload("Deployment", "api"), namespaces={"shop": {}}), [SQL_TARGET, bad],
                            IDENTITIES, SETTINGS)  # fmt: skip
    assert [(f.code, f.resource_id) for f in desired.findings] == [
        (Code.TAG_INVALID, OPENAI.id),
        (Code.CONSENT_MISSING, DB.id),
    ]
