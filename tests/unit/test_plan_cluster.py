"""plan_cluster and its helpers, rule by rule: drift is named field by field and compared ignoring case where ARM
may change the case, what the operator reads (a finding's message, fix and tag) is exact, and nothing of ours is
deleted or unwired while something still uses it."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from shared.core import naming
from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.manifests import pod_spec, read_wirings, rewire
from shared.core.model import Connection, IdentityInfo, TargetInfo, TargetKind, Wiring, WorkloadRef
from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RewireWorkload
from tests import planner_world as world
from tests.planner_world import (
    CLUSTER,
    DB,
    IDENTITIES,
    OPENAI,
    OPENAI_TAGS,
    RG,
    SQL_TAGS,
    SQL_TARGET,
    WI_CONSENT,
    simulate,
    state,
    with_keys,
    workload,
)

# an identity whose client id has letters, so a comparison that minds the case can be told apart
UAMI_HEX = ResourceRef(f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-hex")
HEX = IdentityInfo(UAMI_HEX, "abcdef00-aaaa-4bbb-8ccc-ddddeeeeffff", "fedcba00-aaaa-4bbb-8ccc-ddddeeeeffff", WI_CONSENT)
HEX_TAGS = {"sc-group": "shop", "sc-identity": "id-hex"}
HEX_ACCOUNT = naming.service_account_name(HEX.client_id)
WITH_HEX = {**IDENTITIES, UAMI_HEX: HEX}
OPENAI_TARGET = TargetInfo(OPENAI, TargetKind.OPENAI, OPENAI_TAGS)
OPENAI2 = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-two")
API = WorkloadRef("Deployment", "shop", "api")


def plan(actual, targets, identities=None):
    return world.plan(actual, targets, {**WITH_HEX, **(identities or {})})


def converge(actual, targets, identities=None):
    return world.converge(actual, targets, identities={**WITH_HEX, **(identities or {})})


def hex_world(*workloads):
    return state(*(workloads or (workload("Deployment", "api"),)), cluster_tags=HEX_TAGS)


def of_type(result, kind):
    return [a for a in result.actions if isinstance(a, kind)]


def only(result, code: Code) -> Finding:
    (finding,) = [f for f in result.findings if f.code is code]
    return finding


def linker_of(ref: ResourceRef, namespace: str = "shop") -> str:
    return naming.linker_name(ref, namespace)


# -- why a linker is put: the reason names every field that differs ------------------------------------------
def test_a_missing_linker_is_put_because_it_is_missing():
    assert [a.reason for a in of_type(plan(state(workload("Deployment", "api")), [SQL_TARGET]), PutLinker)] == [
        "missing"
    ]


def test_every_drifted_field_is_named_in_order():
    actual = converge(state(workload("Deployment", "api")), [SQL_TARGET])
    (linker,) = actual.connections
    drifted = dataclasses.replace(linker, auth_type="userAssignedIdentity", client_type="java", secret_user="sa")
    result = plan(dataclasses.replace(actual, connections=(drifted,)), [SQL_TARGET])
    assert [a.reason for a in of_type(result, PutLinker)] == ["drifted: auth, client type, user"]


def test_an_identity_is_compared_ignoring_the_case_either_side_spells_it():
    actual = converge(hex_world(), [OPENAI_TARGET])
    (linker,) = actual.connections
    assert linker.client_id == HEX.client_id  # lower case, as the identity gave it
    assert plan(actual, [OPENAI_TARGET]).is_empty
    upper = dataclasses.replace(linker, client_id=HEX.client_id.upper())
    assert plan(dataclasses.replace(actual, connections=(upper,)), [OPENAI_TARGET]).is_empty


# -- the operator's text: exact where it says what to fix ----------------------------------------------------
def test_a_missing_container_finding_names_the_containers_there_are_and_the_tag_to_fix():
    api = workload("Deployment", "api")
    pod_spec(api.manifest)["containers"].append({"name": "side", "image": "x"})
    target = dataclasses.replace(SQL_TARGET, tags={**SQL_TAGS, "sc-workloads": "deploy/api:ghost"})
    actual = converge(state(api), [target])
    finding = only(plan(actual, [target]), Code.CONTAINER_NOT_FOUND)
    assert finding == Finding(
        Code.CONTAINER_NOT_FOUND,
        DB.id,
        "deployment/shop/api has no container 'ghost' (it has api, side)",
        "fix the :container suffix in sc-workloads",
        "sc-workloads",
    )


SIX_KEYS = frozenset(f"AZURE_SQL_K{n}" for n in range(6))


def _with_keys(actual):
    return with_keys(actual, SIX_KEYS)


def _env_conflict(linker: str, outcome: str) -> Finding:
    return Finding(
        Code.ENV_KEY_CONFLICT,
        DB.id,
        "deployment/shop/api already gets AZURE_SQL_K0, AZURE_SQL_K1, AZURE_SQL_K2, AZURE_SQL_K3, AZURE_SQL_K4 from "
        f"its own env or another connection; {linker} would shadow them: {outcome}",
        "give the keys one source: remove the workload from one target's sc-workloads, or the variable from its env",
        "sc-workloads",
    )


def _set_env(actual, names):
    api = actual.workloads[API]
    manifest = copy.deepcopy(api.manifest)
    pod_spec(manifest)["containers"][0]["env"] = [{"name": n, "value": "x"} for n in sorted(names)]
    return dataclasses.replace(actual, workloads={**actual.workloads, API: dataclasses.replace(api, manifest=manifest)})


def test_an_env_key_conflict_shows_five_keys_and_says_the_workload_is_not_wired():
    target = dataclasses.replace(SQL_TARGET, tags={**SQL_TAGS, "sc-workloads": "deploy/api"})
    first = _set_env(state(workload("Deployment", "api")), SIX_KEYS)
    created = _with_keys(simulate(first, plan(first, [target]).immediate))
    result = plan(created, [target])
    assert only(result, Code.ENV_KEY_CONFLICT) == _env_conflict(linker_of(DB), "it is not wired")
    assert of_type(result, RewireWorkload) == []


def test_an_env_key_conflict_on_a_wired_workload_holds_its_wiring_and_says_so():
    target = dataclasses.replace(SQL_TARGET, tags={**SQL_TAGS, "sc-workloads": "deploy/api"})
    wired = _with_keys(converge(state(workload("Deployment", "api")), [target]))
    assert set(read_wirings(wired.workloads[API].manifest)) == {linker_of(DB)}
    result = plan(_set_env(wired, SIX_KEYS), [target])
    assert only(result, Code.ENV_KEY_CONFLICT) == _env_conflict(linker_of(DB), "its existing wiring is held as it is")
    assert result.writes == ()


# -- deletion safety: a service account goes only when nothing in its namespace uses it ----------------------
def test_a_remaining_linker_with_the_identity_in_another_case_keeps_the_account():
    actual = converge(hex_world(), [OPENAI_TARGET])
    foreign = Connection("by_hand", OPENAI2.id, "userAssignedIdentity", "shop", "python", "Succeeded",
                         HEX.client_id.upper())  # fmt: skip
    result = plan(dataclasses.replace(actual, connections=(*actual.connections, foreign)), [])
    assert [(a.kind, a.name) for a in of_type(result, DeleteObject)] == [
        ("Secret", naming.secret_name(linker_of(OPENAI)))
    ]
    upper = dataclasses.replace(actual.connections[0], client_id=HEX.client_id.upper())
    lower = dataclasses.replace(foreign, client_id=HEX.client_id)
    result = plan(dataclasses.replace(actual, connections=(upper, lower)), [])
    assert [a.kind for a in of_type(result, DeleteObject)] == ["Secret"]
    assert of_type(result, DeleteLinker) == [DeleteLinker(CLUSTER, linker_of(OPENAI))]


def test_an_intent_for_the_same_identity_in_another_namespace_does_not_keep_the_account():
    namespaces = {"shop": {"sc-autopilot.io/allowed-targets": RG}, "billing": {"sc-autopilot.io/allowed-targets": RG}}
    both_ns = dataclasses.replace(HEX, tags={"sc-namespaces": "shop,billing"})
    identities = {UAMI_HEX: both_ns}
    world_before = state(workload("Deployment", "api"), cluster_tags=HEX_TAGS, namespaces=namespaces)
    actual = converge(world_before, [OPENAI_TARGET], identities)
    moved = TargetInfo(OPENAI, TargetKind.OPENAI, {"sc-group": "shop", "sc-namespace": "billing"})
    result = plan(actual, [moved], identities)
    assert ("ServiceAccount", "shop", HEX_ACCOUNT) in [
        (a.kind, a.namespace, a.name) for a in of_type(result, DeleteObject)
    ]


def test_a_missing_workload_finding_names_it_and_the_tag_to_fix():
    target = dataclasses.replace(SQL_TARGET, tags={**SQL_TAGS, "sc-workloads": "deploy/ghost,deploy/api"})
    result = plan(state(workload("Deployment", "api")), [target])
    assert only(result, Code.WORKLOAD_NOT_FOUND) == Finding(
        Code.WORKLOAD_NOT_FOUND,
        DB.id,
        "deployment/shop/ghost does not exist on aks",
        "fix the name in sc-workloads or deploy the workload",
        "sc-workloads",
    )


def test_a_service_account_not_ours_is_a_conflict_that_says_how_to_resolve_it():
    actual = converge(state(workload("Deployment", "api", serviceAccountName="payments")), [OPENAI_TARGET])
    assert only(plan(actual, [OPENAI_TARGET]), Code.SA_CONFLICT) == Finding(
        Code.SA_CONFLICT,
        OPENAI.id,
        "deployment/shop/api runs as service account 'payments', which sc-autopilot does not own",
        "remove serviceAccountName from the workload, or connect with secret auth",
        "sc-workloads",
    )


def test_a_second_identity_on_a_workload_names_every_account_it_already_runs_as():
    """Two held wirings with accounts of their own (recorded so by an earlier version, say) and a third identity:
    a pod has one service account, so the third is not wired and the finding lists both."""
    held = [TargetInfo(ref, TargetKind.OPENAI, {"sc-pause": "true"}) for ref in (OPENAI, OPENAI2)]
    identities = [IDENTITIES[r] for r in sorted(IDENTITIES)]
    connections = tuple(
        Connection(linker_of(t.ref), t.ref.id, "userAssignedIdentity", "shop", "python", "Succeeded", i.client_id)
        for t, i in zip(held, identities, strict=True)
    )
    wirings = {
        c.name: Wiring(naming.secret_name(c.name), ("api",), naming.service_account_name(c.client_id), None, True)
        for c in connections
    }
    api = workload("Deployment", "api")
    api = dataclasses.replace(api, manifest=rewire(api.manifest, wirings))
    actual = dataclasses.replace(hex_world(api), connections=connections)
    third = TargetInfo(ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-3"), TargetKind.OPENAI,
                       OPENAI_TAGS)  # fmt: skip
    created = simulate(actual, plan(actual, [*held, third]).immediate)
    result = plan(created, [*held, third])
    accounts = ", ".join(sorted(w.service_account for w in wirings.values()))
    assert only(result, Code.WI_IDENTITY_CONFLICT) == Finding(
        Code.WI_IDENTITY_CONFLICT,
        third.ref.id,
        f"deployment/shop/api already runs as {accounts}; a pod has one service account",
        "connect this target with secret auth, or use the same identity",
        "sc-workloads",
    )
    assert of_type(result, RewireWorkload) == []


# -- a connection never shadows keys a container already gets -------------------------------------------------
OURS = frozenset({"AZURE_SQL_SERVER", "AZURE_SQL_USER"})
DB2 = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/billing")


def _two_containers(api_env=(), api_from=(), side_from=()):
    api = workload("Deployment", "api")
    containers = pod_spec(api.manifest)["containers"]
    containers.append({"name": "side", "image": "x"})
    for container, env, sources in ((containers[0], api_env, api_from), (containers[1], (), side_from)):
        if env:
            container["env"] = [{"name": n, "value": "x"} for n in env]
        if sources:
            container["envFrom"] = [{"secretRef": {"name": s}} for s in sources]
    return api


def _second_pass(api, targets, keys):
    """The pass after the linkers were put: their secrets exist, with the keys listConfigurations gives."""
    first = state(api)
    created = simulate(first, plan(first, targets).immediate)
    known = {("Secret", "shop", naming.secret_name(linker_of(t.ref))): OURS for t in targets}
    known |= {("Secret", "shop", name): frozenset(k) for name, k in keys.items()}
    return plan(dataclasses.replace(created, env_keys=known), targets)


def _sql(ref, workloads):
    return TargetInfo(ref, TargetKind.SQL_DATABASE, {**SQL_TAGS, "sc-workloads": workloads})


@pytest.mark.parametrize(
    ("api", "workloads", "keys", "conflict"),
    [(_two_containers(api_env=["AZURE_SQL_USER"]), "deploy/api", {}, True),
     (_two_containers(side_from=["other"]), "deploy/api:api", {"other": OURS}, False),
     (_two_containers(api_from=["other"]), "deploy/api", {"other": ["AZURE_SQL_SERVER"]}, True),
     (_two_containers(api_env=["AZURE_SQL_USER"], api_from=["other"]), "deploy/api", {"other": ["X"]}, True),
     (_two_containers(api_env=["PORT"], api_from=["other"]), "deploy/api", {"other": ["X"]}, False)],
    ids=["own-env-of-the-first-container", "other-secret-in-a-container-not-wired", "other-secret-in-envfrom",
         "own-env-and-an-unrelated-secret", "nothing-shared"],
)  # fmt: skip
def test_a_key_the_wired_containers_already_get_is_a_conflict_and_only_that(api, workloads, keys, conflict):
    result = _second_pass(api, [_sql(DB, workloads)], keys)
    assert [f.code for f in result.findings] == ([Code.ENV_KEY_CONFLICT] if conflict else [])
    assert len(of_type(result, RewireWorkload)) == (0 if conflict else 1)


def test_two_connections_with_the_same_keys_on_different_containers_are_both_wired():
    result = _second_pass(_two_containers(), [_sql(DB, "deploy/api:side"), _sql(DB2, "deploy/api:api")], {})
    assert result.findings == ()
    (rewired,) = of_type(result, RewireWorkload)
    assert {name for name, _ in rewired.wirings} == {linker_of(DB), linker_of(DB2)}


# -- what each rewire says about itself: whether it takes something back, which linkers it waits for ----------
def test_a_busy_cluster_finding_says_nothing_is_to_be_done():
    result = plan(state(provisioning="Updating"), [SQL_TARGET])
    assert result.findings == (
        Finding(
            Code.CLUSTER_NOT_READY,
            CLUSTER.id,
            "the cluster is Updating; Service Connector fails on a busy cluster",
            "nothing to do: sc-autopilot retries once the cluster is Succeeded",
        ),
    )


def test_adding_a_second_connection_to_a_wired_workload_removes_nothing():
    one, two = _sql(DB, "deploy/api"), _sql(DB2, "deploy/api")
    wired = converge(state(workload("Deployment", "api")), [one])
    later = plan(wired, [one, two])
    assert [(a.after_linkers, a.removes) for a in of_type(later, RewireWorkload)] == [((linker_of(DB2),), False)]
    created = simulate(wired, later.immediate)
    assert [(a.after_linkers, a.removes) for a in of_type(plan(created, [one, two]), RewireWorkload)] == [((), False)]


def test_a_rewire_waiting_for_a_linker_put_again_says_it_takes_back_the_old_wiring():
    api = _two_containers()
    whole = _sql(DB, "deploy/api")
    wired = converge(state(api), [whole])
    narrowed = dataclasses.replace(_sql(DB, "deploy/api:api"), tags={**_sql(DB, "deploy/api:api").tags,
                                                                     "sc-client-type": "java"})  # fmt: skip
    result = plan(wired, [narrowed])
    assert [a.reason for a in of_type(result, PutLinker)] == ["drifted: client type"]
    assert [(a.after_linkers, a.removes) for a in of_type(result, RewireWorkload)] == [((linker_of(DB),), True)]


def test_a_rewire_waits_only_for_the_linkers_it_wires():
    targets = [_sql(DB, "deploy/api"), _sql(DB2, "sts/worker")]
    result = plan(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), targets)
    assert {(a.workload.name, a.after_linkers) for a in of_type(result, RewireWorkload)} == {
        ("api", (linker_of(DB),)),
        ("worker", (linker_of(DB2),)),
    }
