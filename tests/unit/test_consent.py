"""The consent contract, pure: scopes on whole segments, each owner's grant, the defaults, and the planner holding
what lacks consent (never removing it) while what is consented is planned as before."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from shared.core import consent, naming
from shared.core.codes import Code
from shared.core.ids import ResourceRef
from shared.core.model import Connection, TargetInfo
from shared.core.orphans import ORPHANED_SINCE, CleanupPolicy, plan_releases
from shared.core.plan import AnnotateObject, DeleteLinker, DeleteObject, PutLinker, RewireWorkload
from shared.core.planner import desired_state, plan_cluster
from tests.planner_world import (
    CLUSTER,
    DB,
    IDENTITIES,
    IDENTITY,
    OPENAI_TARGET,
    RG,
    SETTINGS,
    SQL_TARGET,
    SUB,
    converge,
    plan,
    simulate,
    state,
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
    assert "--vault-name kv --name pw --version v1" in refused.fix and refused.tag == "sc-sql-password"


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
    keys = {("Secret", c.namespace, naming.secret_name(c.name)): SQL_KEYS for c in actual.connections}
    return dataclasses.replace(actual, env_keys=keys)


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
