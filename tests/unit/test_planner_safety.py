"""The planner's safety rules, one test per rule, over several targets at once: a held or unrelated target never
stops the others, drift is noticed field by field, and a secret or service account is deleted only once nothing
uses it (no desired connection, no remaining linker, no pod)."""

from __future__ import annotations

import dataclasses

import pytest

from shared.core import naming
from shared.core.ids import ResourceRef
from shared.core.manifests import WI_LABEL, pod_spec, pod_template, read_wirings, secret_references, service_account_of
from shared.core.model import ClusterInfo, Connection, TargetInfo, TargetKind, WorkloadRef
from shared.core.plan import Defer, DeleteLinker, DeleteObject, PutLinker, RegisterProvider, RewireWorkload
from shared.core.planner import (
    LINKER_SETTLING_RETRY_SECONDS,
    NOT_READY_RETRY_SECONDS,
    desired_state,
    plan_cluster,
)
from tests.planner_world import (
    CLUSTER,
    DB,
    IDENTITIES,
    IDENTITY,
    IDENTITY_B,
    OPENAI,
    OPENAI_TAGS,
    OPENAI_TARGET,
    RG,
    SETTINGS,
    SQL_TAGS,
    SQL_TARGET,
    converge,
    plan,
    simulate,
    state,
    workload,
)

OPENAI2 = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-two")
OPENAI2_TARGET = TargetInfo(OPENAI2, TargetKind.OPENAI, OPENAI_TAGS)
ACCOUNT = naming.service_account_name(IDENTITY.client_id)
API = WorkloadRef("Deployment", "shop", "api")
WORKER = WorkloadRef("StatefulSet", "shop", "worker")


def world():
    return state(workload("Deployment", "api"), workload("StatefulSet", "worker"))


def tagged(target: TargetInfo, **tags) -> TargetInfo:
    return dataclasses.replace(target, tags={**target.tags, **tags})


def linker_of(target: TargetInfo, namespace: str = "shop") -> str:
    return naming.linker_name(target.ref, namespace)


def wired(actual, ref=API) -> set[str]:
    return set(read_wirings(actual.workloads[ref].manifest))


def of_type(result, kind):
    return [a for a in result.actions if isinstance(a, kind)]


def codes(result) -> list[str]:
    return [f.code for f in result.findings]


# -- a target that is held or not ours to connect never stops the targets after it ----------------------------
@pytest.mark.parametrize(
    "first",
    [tagged(OPENAI_TARGET, **{"sc-pause": "true"}), tagged(OPENAI_TARGET, **{"sc-workloads": "x;rm"}),
     tagged(OPENAI_TARGET, **{"sc-group": "other"}), TargetInfo(OPENAI, TargetKind.OPENAI, {})],
    ids=["paused", "mis-tagged", "other-group", "untagged"],
)  # fmt: skip
def test_a_target_sorted_first_that_is_not_connected_never_stops_the_next_one(first):
    assert first.ref < SQL_TARGET.ref
    result = plan(world(), [first, SQL_TARGET])
    assert [a.intent.target for a in of_type(result, PutLinker)] == [DB]
    after = converge(world(), [first, SQL_TARGET])
    assert wired(after) == {linker_of(SQL_TARGET)} and wired(after, WORKER) == {linker_of(SQL_TARGET)}


def test_a_target_held_after_being_connected_keeps_its_wiring_and_the_next_one_its_own():
    both = converge(world(), [OPENAI_TARGET, SQL_TARGET])
    for held in (tagged(OPENAI_TARGET, **{"sc-pause": "true"}), tagged(OPENAI_TARGET, **{"sc-auth": "bogus"})):
        assert plan(both, [held, SQL_TARGET]).is_empty


def test_a_workload_identity_target_without_the_identity_is_held_and_the_next_one_connected():
    no_identity = state(workload("Deployment", "api"), cluster_tags={"sc-group": "shop"})
    result = plan(no_identity, [OPENAI_TARGET, SQL_TARGET])
    assert [a.intent.target for a in of_type(result, PutLinker)] == [DB]
    (finding,) = [f for f in result.findings if f.code == "IDENTITY_MISSING"]
    assert "sc-identity tag" in finding.message and "oai" in finding.message and finding.tag == "sc-identity"
    unknown = state(workload("Deployment", "api"), cluster_tags={"sc-group": "shop", "sc-identity": "id-gone"})
    (finding,) = [f for f in plan(unknown, [OPENAI_TARGET]).findings if f.code == "IDENTITY_MISSING"]
    assert "userAssignedIdentities/id-gone was not found" in finding.message and finding.resource_id == CLUSTER.id


def test_a_connected_target_whose_identity_vanishes_is_held_not_torn_down():
    connected = converge(world(), [OPENAI_TARGET])
    gone = dataclasses.replace(connected, info=dataclasses.replace(connected.info, tags={"sc-group": "shop"}))
    assert plan(gone, [OPENAI_TARGET]).writes == ()


def test_the_same_target_listed_twice_is_one_intent():
    desired = desired_state(world(), [SQL_TARGET, SQL_TARGET], IDENTITIES, SETTINGS)
    assert [i.target for i in desired.intents] == [DB]


def test_an_intent_carries_what_the_tags_ask():
    target = tagged(SQL_TARGET, **{"sc-client-type": "java"})
    (intent,) = desired_state(world(), [target], IDENTITIES, SETTINGS).intents
    assert (intent.cluster, intent.target, intent.target_kind, intent.namespace) == (CLUSTER, DB, target.kind, "shop")
    assert (intent.client_type, intent.user, intent.password_url) == (
        "java",
        "app",
        SQL_TAGS["sc-sql-password"],
    )
    assert intent.secret_name == naming.secret_name(intent.linker_name) and intent.identity is None
    (wi,) = desired_state(world(), [OPENAI_TARGET], IDENTITIES, SETTINGS).intents
    assert wi.identity == IDENTITY and wi.service_account == ACCOUNT


# -- the cluster itself ------------------------------------------------------------------------------------
def test_a_paused_cluster_is_left_alone_and_says_so():
    actual = converge(world(), [SQL_TARGET])
    paused = dataclasses.replace(
        actual, info=ClusterInfo(CLUSTER, {"sc-group": "shop", "sc-pause": "true"}, "Succeeded")
    )
    result = plan(paused, [])
    assert result.actions == () and codes(result) == ["PAUSED"] and result.findings[0].tag == "sc-pause"
    mis_tagged = dataclasses.replace(actual, info=ClusterInfo(CLUSTER, {"sc-group": "Bad Group"}, "Succeeded"))
    result = plan(mis_tagged, [])
    assert result.actions == () and codes(result) == ["TAG_INVALID"]


def test_a_busy_cluster_is_deferred_with_its_retry_and_a_finding():
    result = plan(state(provisioning="Updating"), [SQL_TARGET])
    assert result.actions == (Defer(CLUSTER, "cluster is Updating", NOT_READY_RETRY_SECONDS),)
    assert codes(result) == ["CLUSTER_NOT_READY"] and "Updating" in result.findings[0].message


def test_a_settling_linker_is_deferred_and_the_others_go_on():
    actual = converge(world(), [SQL_TARGET])
    (linker,) = actual.connections
    busy = dataclasses.replace(actual, connections=(dataclasses.replace(linker, provisioning_state="Deleting"),))
    result = plan(busy, [SQL_TARGET, OPENAI_TARGET])
    assert [(d.reason, d.retry_after_seconds) for d in of_type(result, Defer)] == [
        (f"linker {linker.name} is Deleting", LINKER_SETTLING_RETRY_SECONDS)
    ]
    assert [a.intent.target for a in of_type(result, PutLinker)] == [OPENAI]


def test_providers_are_registered_only_when_something_is_wanted_and_only_those_missing():
    partial = dataclasses.replace(world(), providers={"microsoft.servicelinker": "Registered",
                                                      "microsoft.kubernetesconfiguration": "Registering"})  # fmt: skip
    assert of_type(plan(partial, [SQL_TARGET]), RegisterProvider) == [
        RegisterProvider(CLUSTER.subscription_id, "Microsoft.KubernetesConfiguration")
    ]
    assert plan(dataclasses.replace(world(), providers={}), []).is_empty


# -- drift, field by field ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [("auth_type", "userAssignedIdentity", "drifted: auth"), ("client_type", "java", "drifted: client type"),
     ("client_id", IDENTITY.client_id, "drifted: identity"), ("secret_user", "admin", "drifted: user"),
     ("provisioning_state", "Failed", "provisioning state is Failed")],
)  # fmt: skip
def test_a_linker_that_differs_from_the_tags_is_put_again(field, value, reason):
    actual = converge(world(), [SQL_TARGET])
    (linker,) = actual.connections
    drifted = dataclasses.replace(actual, connections=(dataclasses.replace(linker, **{field: value}),))
    result = plan(drifted, [SQL_TARGET])
    assert [(a.intent.linker_name, a.reason) for a in of_type(result, PutLinker)] == [(linker.name, reason)]
    assert of_type(result, RewireWorkload) == [] and of_type(result, DeleteObject) == []  # the wiring stays meanwhile


def test_identity_and_target_are_compared_ignoring_case():
    actual = converge(world(), [OPENAI_TARGET])
    (linker,) = actual.connections
    upper = dataclasses.replace(linker, client_id=linker.client_id.upper(), target_id=linker.target_id.upper())
    assert plan(dataclasses.replace(actual, connections=(upper,)), [OPENAI_TARGET]).is_empty
    other = dataclasses.replace(linker, client_id=IDENTITY_B.client_id)
    assert [a.reason for a in plan(dataclasses.replace(actual, connections=(other,)), [OPENAI_TARGET]).actions] == [
        "drifted: identity"
    ]


def test_the_sql_user_of_a_workload_identity_linker_is_not_compared():
    target = tagged(SQL_TARGET, **{"sc-auth": "workload-identity"})
    actual = converge(world(), [target])
    (linker,) = actual.connections
    assert (
        plan(dataclasses.replace(actual, connections=(dataclasses.replace(linker, secret_user="x"),)), [target]).writes
        == ()
    )


@pytest.mark.parametrize(
    ("target", "objects", "reason"),
    [(SQL_TARGET, "secrets", "its secret is missing from the cluster"),
     (OPENAI_TARGET, "service_accounts", "its service account is missing from the cluster")],
)  # fmt: skip
def test_a_linker_whose_objects_are_gone_is_put_again(target, objects, reason):
    actual = converge(world(), [target])
    emptied = dataclasses.replace(actual, **{objects: {"shop": frozenset({"default"})}})
    assert [a.reason for a in of_type(plan(emptied, [target]), PutLinker)] == [reason]


# -- workloads ----------------------------------------------------------------------------------------------
def test_a_missing_workload_is_reported_and_the_next_one_still_wired():
    target = tagged(SQL_TARGET, **{"sc-workloads": "deploy/ghost,sts/worker,deploy/api"})
    after = converge(world(), [target])
    assert wired(after, WORKER) == wired(after) == {linker_of(target)}
    result = plan(after, [target])
    assert result.writes == () and codes(result) == ["WORKLOAD_NOT_FOUND"]
    assert result.findings[0].tag == "sc-workloads" and "deployment/shop/ghost" in result.findings[0].message


def test_a_missing_container_is_reported_and_nothing_else_of_the_workload_wired():
    body = workload("Deployment", "api")
    pod_spec(body.manifest)["containers"].append({"name": "side", "image": "x"})
    target = tagged(SQL_TARGET, **{"sc-workloads": "deploy/api:ghost,sts/worker"})
    after = converge(state(body, workload("StatefulSet", "worker")), [target])
    assert wired(after) == set() and wired(after, WORKER) == {linker_of(target)}
    assert codes(plan(after, [target])) == ["CONTAINER_NOT_FOUND"]
    only_side = converge(state(body), [tagged(SQL_TARGET, **{"sc-workloads": "deploy/api:side"})])
    envs = [c.get("envFrom") for c in pod_spec(only_side.workloads[API].manifest)["containers"]]
    assert envs == [None, [{"secretRef": {"name": naming.secret_name(linker_of(SQL_TARGET))}}]]


def test_two_targets_on_one_workload_then_one_removed_keeps_the_other():
    both = converge(world(), [SQL_TARGET, OPENAI_TARGET])
    assert wired(both) == {linker_of(SQL_TARGET), linker_of(OPENAI_TARGET)}
    one = converge(both, [OPENAI_TARGET])
    api = one.workloads[API].manifest
    assert wired(one) == {linker_of(OPENAI_TARGET)} and secret_references(api) == {
        naming.secret_name(linker_of(OPENAI_TARGET))
    }
    assert service_account_of(api) == ACCOUNT and wired(one, WORKER) == set()


def test_a_held_target_keeps_its_wiring_while_another_on_the_same_workload_is_removed():
    both = converge(world(), [SQL_TARGET, OPENAI_TARGET])
    result = plan(both, [tagged(SQL_TARGET, **{"sc-pause": "true"})])
    (rewire,) = [a for a in of_type(result, RewireWorkload) if a.workload == API]
    assert [name for name, _ in rewire.wirings] == [linker_of(SQL_TARGET)]
    assert of_type(result, DeleteLinker) == [DeleteLinker(CLUSTER, linker_of(OPENAI_TARGET))]


def test_a_new_identity_on_a_workload_whose_held_wiring_runs_as_another_is_a_conflict():
    both = converge(world(), [OPENAI_TARGET])
    moved = dataclasses.replace(
        both, info=dataclasses.replace(both.info, tags={"sc-group": "shop", "sc-identity": "id-b"})
    )
    result = plan(moved, [tagged(OPENAI_TARGET, **{"sc-pause": "true"}), OPENAI2_TARGET])
    after = converge(moved, [tagged(OPENAI_TARGET, **{"sc-pause": "true"}), OPENAI2_TARGET])
    assert "WI_IDENTITY_CONFLICT" in codes(plan(after, [tagged(OPENAI_TARGET, **{"sc-pause": "true"}), OPENAI2_TARGET]))
    assert wired(after) == {linker_of(OPENAI_TARGET)} and service_account_of(after.workloads[API].manifest) == ACCOUNT
    assert of_type(result, DeleteLinker) == []


def test_a_service_account_set_by_hand_to_ours_is_kept_when_unwired():
    actual = converge(state(workload("Deployment", "api", serviceAccountName=ACCOUNT)), [OPENAI_TARGET])
    assert wired(actual) == {linker_of(OPENAI_TARGET)}
    (record,) = read_wirings(actual.workloads[API].manifest).values()
    assert record.previous_service_account == ACCOUNT


def test_a_pod_label_set_by_hand_is_not_taken_back():
    body = workload("Deployment", "api")
    pod_template(body.manifest)["metadata"]["labels"][WI_LABEL] = "true"
    actual = converge(state(body), [OPENAI_TARGET])
    (record,) = read_wirings(actual.workloads[API].manifest).values()
    assert record.label is False
    after = converge(actual, [])
    assert pod_template(after.workloads[API].manifest)["metadata"]["labels"][WI_LABEL] == "true"
    fresh = converge(state(workload("Deployment", "api")), [OPENAI_TARGET])
    assert read_wirings(fresh.workloads[API].manifest)[linker_of(OPENAI_TARGET)].label is True
    assert WI_LABEL not in pod_template(converge(fresh, []).workloads[API].manifest)["metadata"]["labels"]


def test_wiring_in_a_protected_namespace_is_never_touched():
    actual = converge(world(), [SQL_TARGET])
    record = actual.workloads[API].manifest["metadata"]["annotations"]
    system = workload("Deployment", "dns", namespace="kube-system")
    system.manifest["metadata"]["annotations"] = dict(record)
    with_system = dataclasses.replace(actual, workloads={**actual.workloads, system.ref: system})
    assert all(a.workload.namespace == "shop" for a in of_type(plan(with_system, []), RewireWorkload))
    assert any(isinstance(a, DeleteLinker) for a in plan(with_system, []).actions)


# -- what is left alone --------------------------------------------------------------------------------------
def test_a_linker_of_ours_in_a_protected_namespace_is_left_alone():
    actual = converge(world(), [SQL_TARGET])
    system = Connection(naming.linker_name(DB, "kube-system"), DB.id, "secret", "kube-system", "python", "Succeeded")
    assert plan(dataclasses.replace(actual, connections=(*actual.connections, system)), [SQL_TARGET]).is_empty


# -- deletion: the secret and the service account go only when nothing uses them ------------------------------
def test_a_removed_connection_takes_its_secret_and_account_before_the_linker():
    actual = converge(world(), [OPENAI_TARGET])
    result = plan(actual, [])
    linker = linker_of(OPENAI_TARGET)
    assert [a for a in result.actions if not isinstance(a, RewireWorkload)] == [
        DeleteObject(CLUSTER, "Secret", "shop", naming.secret_name(linker)),
        DeleteObject(CLUSTER, "ServiceAccount", "shop", ACCOUNT),
        DeleteLinker(CLUSTER, linker),
    ]


def test_a_secret_or_account_already_gone_is_not_deleted_again():
    actual = converge(world(), [OPENAI_TARGET])
    bare = dataclasses.replace(actual, secrets={}, service_accounts={})
    assert of_type(plan(bare, []), DeleteObject) == []


def test_an_account_another_desired_connection_uses_is_kept():
    both = converge(world(), [OPENAI_TARGET, OPENAI2_TARGET])
    result = plan(both, [OPENAI2_TARGET])
    assert of_type(result, DeleteLinker) == [DeleteLinker(CLUSTER, linker_of(OPENAI_TARGET))]
    assert [(a.kind, a.name) for a in of_type(result, DeleteObject)] == [
        ("Secret", naming.secret_name(linker_of(OPENAI_TARGET)))
    ]
    after = converge(both, [OPENAI2_TARGET])
    assert ACCOUNT in after.service_accounts["shop"] and service_account_of(after.workloads[API].manifest) == ACCOUNT


def test_an_account_a_held_connection_still_uses_is_kept():
    both = converge(world(), [OPENAI_TARGET, OPENAI2_TARGET])
    result = plan(both, [tagged(OPENAI2_TARGET, **{"sc-pause": "true"})])
    assert of_type(result, DeleteLinker) == [DeleteLinker(CLUSTER, linker_of(OPENAI_TARGET))]
    assert ("ServiceAccount", ACCOUNT) not in [(a.kind, a.name) for a in of_type(result, DeleteObject)]


def test_an_account_a_foreign_linker_with_the_same_identity_uses_is_kept():
    actual = converge(world(), [OPENAI_TARGET])
    foreign = Connection("by_hand", OPENAI2.id, "userAssignedIdentity", "shop", "python", "Succeeded",
                         IDENTITY.client_id.upper())  # fmt: skip
    result = plan(dataclasses.replace(actual, connections=(*actual.connections, foreign)), [])
    assert [a.kind for a in of_type(result, DeleteObject)] == ["Secret"]
    elsewhere = dataclasses.replace(foreign, namespace="billing")
    result = plan(dataclasses.replace(actual, connections=(*actual.connections, elsewhere)), [])
    assert [a.kind for a in of_type(result, DeleteObject)] == ["Secret", "ServiceAccount"]


def test_two_removed_connections_sharing_an_identity_delete_the_account_once_both_go():
    both = converge(world(), [OPENAI_TARGET, OPENAI2_TARGET])
    result = plan(both, [])
    assert [a.name for a in of_type(result, DeleteObject) if a.kind == "ServiceAccount"] == [ACCOUNT, ACCOUNT]


def test_an_account_a_pod_runs_as_by_hand_is_kept():
    actual = converge(world(), [OPENAI_TARGET])
    by_hand = workload("Job", "migrate", serviceAccountName=ACCOUNT)
    result = plan(dataclasses.replace(actual, workloads={**actual.workloads, by_hand.ref: by_hand}), [])
    assert [a.kind for a in of_type(result, DeleteObject)] == ["Secret"]
    other_ns = workload("Job", "migrate", namespace="billing", serviceAccountName=ACCOUNT)
    result = plan(dataclasses.replace(actual, workloads={**actual.workloads, other_ns.ref: other_ns}), [])
    assert [a.kind for a in of_type(result, DeleteObject)] == ["Secret", "ServiceAccount"]


def test_a_secret_is_judged_on_the_workloads_as_they_will_be_after_the_rewire():
    actual = converge(world(), [SQL_TARGET])
    secret = naming.secret_name(linker_of(SQL_TARGET))
    user = workload("Deployment", "billing", imagePullSecrets=[{"name": secret}])
    elsewhere = workload("Deployment", "billing", namespace="billing", imagePullSecrets=[{"name": secret}])
    kept = plan(dataclasses.replace(actual, workloads={**actual.workloads, user.ref: user}), [])
    assert of_type(kept, DeleteObject) == [] and codes(kept) == ["SECRET_IN_USE"]
    assert "deployment" not in kept.findings[0].message and "billing" in kept.findings[0].message
    gone = plan(dataclasses.replace(actual, workloads={**actual.workloads, elsewhere.ref: elsewhere}), [])
    assert of_type(gone, DeleteObject) == [DeleteObject(CLUSTER, "Secret", "shop", secret)]


def test_removal_converges_to_nothing_of_ours_left():
    both = converge(world(), [SQL_TARGET, OPENAI_TARGET])
    after = simulate(both, plan(both, []).actions)
    assert after.connections == () and wired(after) == set() and wired(after, WORKER) == set()
    assert after.secrets["shop"] == frozenset() and after.service_accounts["shop"] == frozenset({"default"})


def test_sql_with_workload_identity_escapes_the_identity_name_in_the_tsql():
    odd = dataclasses.replace(IDENTITY, ref=ResourceRef(IDENTITY.ref.id.replace("id-shop", "id]x")))
    target = tagged(SQL_TARGET, **{"sc-auth": "workload-identity"})
    desired = desired_state(world(), [target], {IDENTITY.ref: odd}, SETTINGS)
    (finding,) = [f for f in plan_cluster(desired, world(), SETTINGS).findings]
    assert finding.code == "SQL_WI_DB_USER_REQUIRED" and "[id]]x]" in finding.fix and finding.resource_id == DB.id


def test_a_workload_named_whole_and_by_container_gets_every_container_wired():
    web = workload("Deployment", "web")
    pod_spec(web.manifest)["containers"].append({"name": "nginx", "image": "x"})
    target = tagged(SQL_TARGET, **{"sc-workloads": "deploy/web,deploy/web:nginx"})
    after = converge(state(web), [target])
    secret = [{"secretRef": {"name": naming.secret_name(linker_of(target))}}]
    assert [c.get("envFrom") for c in pod_spec(after.workloads[web.ref].manifest)["containers"]] == [secret, secret]
    assert plan(after, [target]).is_empty


def test_a_linker_named_ours_whose_target_was_edited_is_not_ours_and_says_where_it_points():
    actual = converge(world(), [SQL_TARGET])
    (linker,) = actual.connections
    edited = dataclasses.replace(actual, connections=(dataclasses.replace(linker, target_id=OPENAI.id),))
    result = plan(edited, [SQL_TARGET])
    assert result.writes == () and codes(result) == ["LINKER_NAME_TAKEN"]
    (finding,) = result.findings
    assert OPENAI.id in finding.message and DB.id in finding.message and "namespace shop" in finding.message
    assert "delete or rename" in finding.fix


def test_every_planner_finding_says_what_and_how_to_fix():
    identity = state(workload("Deployment", "api"), cluster_tags={"sc-group": "shop"})
    (finding,) = plan(identity, [OPENAI_TARGET]).findings
    assert finding.fix.startswith("tag the cluster sc-identity=") and finding.tag == "sc-identity"
    target = tagged(SQL_TARGET, **{"sc-auth": "workload-identity"})
    (finding,) = plan(world(), [target]).findings
    assert finding.tag == "sc-auth" and "does not create the contained database user" in finding.message
    actual = converge(world(), [SQL_TARGET])
    secret = naming.secret_name(linker_of(SQL_TARGET))
    users = [workload("Job", name, imagePullSecrets=[{"name": secret}]) for name in ("migrate", "backup")]
    with_users = dataclasses.replace(actual, workloads={**actual.workloads, **{u.ref: u for u in users}})
    (finding,) = plan(with_users, []).findings
    assert finding.message.endswith("is still referenced by backup, migrate")
    assert finding.fix == "remove the reference; it is deleted on the next run"


def test_an_account_is_deleted_when_only_a_secret_auth_connection_remains_in_its_namespace():
    both = converge(world(), [SQL_TARGET, OPENAI_TARGET])
    result = plan(both, [SQL_TARGET])
    assert [(a.kind, a.name) for a in of_type(result, DeleteObject)] == [
        ("Secret", naming.secret_name(linker_of(OPENAI_TARGET))),
        ("ServiceAccount", ACCOUNT),
    ]


@pytest.mark.parametrize("emptied", ["secrets", "service_accounts"])
def test_a_namespace_with_no_objects_listed_at_all_means_the_linkers_objects_are_missing(emptied):
    actual = converge(world(), [OPENAI_TARGET])
    reasons = [
        a.reason for a in of_type(plan(dataclasses.replace(actual, **{emptied: {}}), [OPENAI_TARGET]), PutLinker)
    ]
    assert reasons == [
        "its secret is missing from the cluster"
        if emptied == "secrets"
        else "its service account is missing from the cluster"
    ]


def test_a_workload_named_by_two_containers_gets_both_wired():
    web = workload("Deployment", "web")
    pod_spec(web.manifest)["containers"].append({"name": "nginx", "image": "x"})
    target = tagged(SQL_TARGET, **{"sc-workloads": "deploy/web:nginx,deploy/web:web"})
    after = converge(state(web), [target])
    assert all(c.get("envFrom") for c in pod_spec(after.workloads[web.ref].manifest)["containers"])


def test_the_plan_says_which_cluster_what_each_put_replaces_and_what_each_rewire_removes():
    fresh = plan(world(), [SQL_TARGET])
    assert fresh.cluster == CLUSTER and [a.replaces for a in of_type(fresh, PutLinker)] == [False]
    actual = converge(world(), [SQL_TARGET])
    (linker,) = actual.connections
    drifted = dataclasses.replace(actual, connections=(dataclasses.replace(linker, client_type="java"),))
    assert [a.replaces for a in of_type(plan(drifted, [SQL_TARGET]), PutLinker)] == [True]
    removal = plan(actual, [])
    assert removal.cluster == CLUSTER and all(a.cluster == CLUSTER for a in removal.actions)
    assert {(a.workload, a.removes) for a in of_type(removal, RewireWorkload)} == {(API, True), (WORKER, True)}
    assert all(a.basis == actual.workloads[a.workload].manifest for a in of_type(removal, RewireWorkload))
    wiring = plan(simulate(world(), of_type(fresh, PutLinker)), [SQL_TARGET])
    assert {a.removes for a in of_type(wiring, RewireWorkload)} == {False}
    busy = dataclasses.replace(actual, connections=(dataclasses.replace(linker, provisioning_state="Updating"),))
    assert [(d.cluster, d.linker) for d in of_type(plan(busy, [SQL_TARGET]), Defer)] == [(CLUSTER, linker.name)]
    assert plan(state(provisioning="Creating"), [SQL_TARGET]).cluster == CLUSTER
    paused = dataclasses.replace(world(), info=dataclasses.replace(world().info, tags={"sc-pause": "true"}))
    assert plan(paused, []).cluster == CLUSTER
