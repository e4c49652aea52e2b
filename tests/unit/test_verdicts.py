"""Verdicts, pure: from the planner's inputs, its plan and the sweep's evidence to one verdict per connection,
with every reason a connection is not Compliant, and Error only when nothing sc-autopilot does would fix it."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from shared.core import naming
from shared.core.manifests import WI_LABEL, pod_spec, pod_template
from shared.core.model import Connection, WorkloadRef
from shared.core.plan import Defer, Plan
from shared.core.planner import desired_state, plan_cluster
from shared.core.verdicts import Evidence, Status, judge
from tests.planner_world import (
    CLUSTER,
    DB,
    IDENTITIES,
    IDENTITY,
    OPENAI,
    OPENAI_TARGET,
    SETTINGS,
    SQL_TARGET,
    converge,
    simulate,
    state,
    workload,
)

ISSUER = "https://oidc.example/issuer/"
SQL = naming.linker_name(DB, "shop")
OAI = naming.linker_name(OPENAI, "shop")
ACCOUNT = naming.service_account_name(IDENTITY.client_id)
API = WorkloadRef("Deployment", "shop", "api")
KEYS = frozenset({"AZURE_SQL_HOST", "AZURE_SQL_USER"})


def compliant_world():
    actual = converge(
        state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET, OPENAI_TARGET]
    )
    info = dataclasses.replace(actual.info, oidc_issuer_url=ISSUER, workload_identity_enabled=True)
    account = {"annotations": {"azure.workload.identity/client-id": IDENTITY.client_id}}
    return dataclasses.replace(actual, info=info, metadata={("ServiceAccount", "shop", ACCOUNT): account})


GOOD = Evidence(
    extension_state="Succeeded",
    secret_keys={SQL: KEYS, OAI: frozenset({"AZURE_OPENAI_BASE"})},
    expected_keys={SQL: KEYS},
    federated_subjects={IDENTITY.client_id: frozenset({(ISSUER, f"system:serviceaccount:shop:{ACCOUNT}")})},
)


def verdicts(actual=None, evidence=GOOD, plan=None, targets=(SQL_TARGET, OPENAI_TARGET)):
    actual = actual or compliant_world()
    desired = desired_state(actual, list(targets), IDENTITIES, SETTINGS)
    plan = plan if plan is not None else plan_cluster(desired, actual, SETTINGS)
    return {v.connection: v for v in judge(desired, actual, plan, evidence)}


def reasons(verdict) -> list[str]:
    return [r.code for r in verdict.reasons]


def test_a_converged_cluster_with_good_evidence_is_compliant():
    result = verdicts()
    assert {name: (v.status, v.reasons) for name, v in result.items()} == {
        SQL: (Status.COMPLIANT, ()), OAI: (Status.COMPLIANT, ())
    }  # fmt: skip
    assert result[SQL].to_dict() == {"cluster": CLUSTER.id, "connection": SQL, "target": DB.id, "verdict": "Compliant",
                                     "repaired": False, "reasons": [], "consumers": []}  # fmt: skip


def test_a_deferred_plan_makes_every_connection_pending_with_the_reason():
    plan = Plan(CLUSTER, (Defer(CLUSTER, "cluster is Updating"),))
    result = verdicts(plan=plan)
    assert all(v.status is Status.PENDING and reasons(v) == ["CLUSTER_NOT_READY"] for v in result.values())
    assert result[SQL].reasons[0].message == "cluster is Updating"


def test_a_missing_linker_is_drifted():
    actual = compliant_world()
    actual = dataclasses.replace(actual, connections=tuple(c for c in actual.connections if c.name != SQL))
    result = verdicts(actual)
    assert (result[SQL].status, reasons(result[SQL])) == (Status.DRIFTED, ["LINKER_MISSING"])
    assert result[OAI].status is Status.COMPLIANT


def with_linker(actual, name, **change):
    return dataclasses.replace(
        actual, connections=tuple(dataclasses.replace(c, **change) if c.name == name else c for c in actual.connections)
    )


@pytest.mark.parametrize("provisioning", ["Accepted", "InProgress", "Creating", "Updating"])
def test_a_linker_being_provisioned_is_pending(provisioning):
    result = verdicts(with_linker(compliant_world(), SQL, provisioning_state=provisioning), plan=Plan(CLUSTER))
    assert (result[SQL].status, reasons(result[SQL])) == (Status.PENDING, ["LINKER_PROVISIONING"])
    assert result[SQL].reasons[0].message == provisioning and result[OAI].status is Status.COMPLIANT


@pytest.mark.parametrize(("change", "code"), [({"provisioning_state": "Failed"}, "LINKER_FAILED"),
                                               ({"client_type": "java"}, "LINKER_DRIFTED")])  # fmt: skip
def test_a_linker_the_plan_puts_again_is_failed_or_drifted_with_the_plans_reason(change, code):
    result = verdicts(with_linker(compliant_world(), SQL, **change))
    assert (result[SQL].status, reasons(result[SQL])) == (Status.DRIFTED, [code])
    assert result[SQL].reasons[0].message in ("provisioning state is Failed", "drifted: client type")


def test_a_failed_extension_is_an_error_on_every_connection():
    result = verdicts(evidence=dataclasses.replace(GOOD, extension_state="Failed"))
    assert all((v.status, reasons(v)) == (Status.ERROR, ["EXTENSION_NOT_READY"]) for v in result.values())
    assert "Failed" in result[SQL].reasons[0].message
    assert all(
        v.status is Status.COMPLIANT
        for v in verdicts(evidence=dataclasses.replace(GOOD, extension_state=None)).values()
    )


def test_a_missing_secret_or_missing_keys_are_drift():
    result = verdicts(evidence=dataclasses.replace(GOOD, secret_keys={OAI: frozenset()}))
    assert (result[SQL].status, reasons(result[SQL])) == (Status.DRIFTED, ["SECRET_MISSING"])
    assert naming.secret_name(SQL) in result[SQL].reasons[0].message and result[OAI].status is Status.COMPLIANT
    partial = dataclasses.replace(GOOD, secret_keys={**GOOD.secret_keys, SQL: frozenset({"OTHER"})})
    result = verdicts(evidence=partial)
    assert reasons(result[SQL]) == ["SECRET_KEYS_MISSING"]
    assert result[SQL].reasons[0].message == "secret lacks AZURE_SQL_HOST, AZURE_SQL_USER"


@pytest.mark.parametrize(("issuer", "enabled"), [(None, True), (ISSUER, False)])
def test_workload_identity_off_on_the_cluster(issuer, enabled):
    actual = compliant_world()
    actual = dataclasses.replace(actual, info=dataclasses.replace(actual.info, oidc_issuer_url=issuer,
                                                                  workload_identity_enabled=enabled))  # fmt: skip
    result = verdicts(actual)
    assert reasons(result[OAI]) == ["CLUSTER_WI_DISABLED"]
    assert result[SQL].status is Status.COMPLIANT


def test_the_service_account_must_exist_and_carry_the_identity():
    actual = compliant_world()
    assert reasons(verdicts(dataclasses.replace(actual, metadata={}))[OAI]) == ["SERVICE_ACCOUNT_MISSING"]
    wrong = {("ServiceAccount", "shop", ACCOUNT): {"annotations": {"azure.workload.identity/client-id": "x"}}}
    result = verdicts(dataclasses.replace(actual, metadata=wrong))
    assert reasons(result[OAI]) == ["SERVICE_ACCOUNT_WRONG_CLIENT"] and "'x'" in result[OAI].reasons[0].message
    bare = {("ServiceAccount", "shop", ACCOUNT): {"name": ACCOUNT}}
    assert reasons(verdicts(dataclasses.replace(actual, metadata=bare))[OAI]) == ["SERVICE_ACCOUNT_WRONG_CLIENT"]
    upper = {("ServiceAccount", "shop", ACCOUNT): {"annotations": {
        "azure.workload.identity/client-id": IDENTITY.client_id.upper()}}}  # fmt: skip
    assert verdicts(dataclasses.replace(actual, metadata=upper))[OAI].status is Status.COMPLIANT


@pytest.mark.parametrize(
    "subjects",
    [frozenset(), frozenset({("https://other/", f"system:serviceaccount:shop:{ACCOUNT}")}),
     frozenset({(ISSUER, "system:serviceaccount:billing:" + ACCOUNT)})],
)  # fmt: skip
def test_the_identity_must_trust_this_clusters_service_account(subjects):
    result = verdicts(evidence=dataclasses.replace(GOOD, federated_subjects={IDENTITY.client_id: subjects}))
    assert reasons(result[OAI]) == ["FEDERATED_CREDENTIAL_MISSING"]
    assert f"system:serviceaccount:shop:{ACCOUNT}" in result[OAI].reasons[0].message


def test_a_missing_workload_is_an_error_and_the_next_workload_is_still_checked():
    actual = compliant_world()
    actual = dataclasses.replace(actual, workloads={API: actual.workloads[API]})  # the worker is gone
    result = verdicts(actual)
    assert (result[SQL].status, reasons(result[SQL])) == (Status.ERROR, ["WORKLOAD_NOT_FOUND"])
    assert "StatefulSet/worker" in result[SQL].reasons[0].message
    unwired = dataclasses.replace(actual, workloads={})
    assert reasons(verdicts(unwired)[SQL]) == ["WORKLOAD_NOT_FOUND", "WORKLOAD_NOT_FOUND"]


def unwired(mutate):
    actual = compliant_world()
    api = actual.workloads[API]
    manifest = copy.deepcopy(api.manifest)
    mutate(manifest)
    return dataclasses.replace(actual, workloads={**actual.workloads, API: dataclasses.replace(api, manifest=manifest)})


def test_a_workload_without_its_envfrom_is_not_wired():
    result = verdicts(unwired(lambda m: pod_spec(m)["containers"][0].pop("envFrom")))
    assert reasons(result[SQL]) == ["WORKLOAD_NOT_WIRED"] and result[SQL].status is Status.DRIFTED
    assert f"container api lacks envFrom {naming.secret_name(SQL)}" in result[SQL].reasons[0].message


def test_only_the_named_container_must_carry_the_envfrom():
    def add_side(m):
        pod_spec(m)["containers"].append({"name": "side"})

    target = dataclasses.replace(SQL_TARGET, tags={**SQL_TARGET.tags, "sc-workloads": "deploy/api:api"})
    assert verdicts(unwired(add_side), targets=[target])[SQL].status is Status.COMPLIANT
    result = verdicts(unwired(add_side), targets=[SQL_TARGET])
    assert reasons(result[SQL]) == ["WORKLOAD_NOT_WIRED"] and "container side lacks" in result[SQL].reasons[0].message


@pytest.mark.parametrize(
    ("mutate", "gap"),
    [(lambda m: pod_spec(m).update(serviceAccountName="default"), f"serviceAccountName is not {ACCOUNT}"),
     (lambda m: pod_template(m)["metadata"]["labels"].pop(WI_LABEL), f"pod template lacks {WI_LABEL}=true"),
     (lambda m: pod_template(m).pop("metadata"), f"pod template lacks {WI_LABEL}=true")],
)  # fmt: skip
def test_a_workload_identity_workload_needs_its_account_and_label(mutate, gap):
    result = verdicts(unwired(mutate))
    assert reasons(result[OAI]) == ["WORKLOAD_NOT_WIRED"] and result[OAI].reasons[0].message == f"Deployment/api: {gap}"
    assert result[SQL].status is Status.COMPLIANT


def test_a_failed_validation_is_an_error_with_its_details():
    result = verdicts(
        evidence=dataclasses.replace(GOOD, validation={SQL: (False, ("port closed", "dns")), OAI: (False, ())})
    )
    assert (result[SQL].status, reasons(result[SQL])) == (Status.ERROR, ["VALIDATE_FAILED"])
    assert result[SQL].reasons[0].message == "port closed; dns"
    assert result[OAI].reasons[0].message == "Service Connector validation failed"
    ok = verdicts(evidence=dataclasses.replace(GOOD, validation={SQL: (True, ("warning",))}))
    assert ok[SQL].status is Status.COMPLIANT


def test_the_worst_reason_makes_the_verdict():
    result = verdicts(evidence=dataclasses.replace(GOOD, extension_state="Failed", secret_keys={}))
    assert reasons(result[SQL]) == ["EXTENSION_NOT_READY", "SECRET_MISSING"] and result[SQL].status is Status.ERROR


def test_our_connections_no_longer_wanted_are_orphaned_and_foreign_ones_ignored():
    actual = compliant_world()
    foreign = Connection("by_hand", DB.id, "secret", "shop", "python", "Succeeded")
    actual = dataclasses.replace(actual, connections=(*actual.connections, foreign))
    result = verdicts(actual, targets=[])
    assert set(result) == {SQL, OAI}
    assert all(v.status is Status.ORPHANED and reasons(v) == ["NOT_WANTED"] for v in result.values())
    assert (result[SQL].cluster, result[SQL].target) == (CLUSTER.id, DB.id)
    gone = verdicts(actual, evidence=dataclasses.replace(GOOD, missing_targets=frozenset({DB.id.lower()})), targets=[])
    assert reasons(gone[SQL]) == ["TARGET_DELETED"] and reasons(gone[OAI]) == ["NOT_WANTED"]


def without_linker(actual, name):
    return dataclasses.replace(actual, connections=tuple(c for c in actual.connections if c.name != name))


def no_worker(actual):
    return dataclasses.replace(actual, workloads={API: actual.workloads[API]})


def no_identity_on_cluster(actual):
    return dataclasses.replace(actual, info=dataclasses.replace(actual.info, workload_identity_enabled=False))


SECRET = naming.secret_name(SQL)
SUBJECT = f"system:serviceaccount:shop:{ACCOUNT}"
PUT_AGAIN = "sc-autopilot puts the connection again, which rewrites it"
# (what is wrong, the connection, every reason it gets: code, message and fix exactly, as the report shows them)
SAID = {
    "cluster busy": (dict(plan=Plan(CLUSTER, (Defer(CLUSTER, "cluster is Updating"),))), SQL,
                     [("CLUSTER_NOT_READY", "cluster is Updating", "wait: retried when the cluster settles")]),
    "no linker": (dict(actual=without_linker(no_worker(compliant_world()), SQL)), SQL,
                  [("LINKER_MISSING", "the connection does not exist", "sc-autopilot creates it"),
                   ("WORKLOAD_NOT_FOUND", "StatefulSet/worker does not exist", "fix sc-workloads")]),
    "provisioning": (dict(actual=with_linker(no_worker(compliant_world()), SQL, provisioning_state="Creating"),
                          plan=Plan(CLUSTER)), SQL,
                     [("LINKER_PROVISIONING", "Creating", "wait for Service Connector"),
                      ("WORKLOAD_NOT_FOUND", "StatefulSet/worker does not exist", "fix sc-workloads")]),
    "failed linker": (dict(actual=with_linker(compliant_world(), SQL, provisioning_state="Failed")), SQL,
                      [("LINKER_FAILED", "provisioning state is Failed", "sc-autopilot puts the connection again")]),
    "extension": (dict(evidence=dataclasses.replace(GOOD, extension_state="Failed")), SQL,
                  [("EXTENSION_NOT_READY", "sc-extension is Failed",
                    "check the extension in the portal; see docs/operations.md (Helm errors)")]),
    "no secret": (dict(evidence=dataclasses.replace(GOOD, secret_keys={})), SQL,
                  [("SECRET_MISSING", f"secret shop/{SECRET} is missing", PUT_AGAIN)]),
    "keys": (dict(evidence=dataclasses.replace(GOOD, secret_keys={SQL: frozenset({"AZURE_SQL_HOST"})})), SQL,
             [("SECRET_KEYS_MISSING", "secret lacks AZURE_SQL_USER", PUT_AGAIN)]),
    "validation": (dict(evidence=dataclasses.replace(GOOD, validation={SQL: (False, ())})), SQL,
                   [("VALIDATE_FAILED", "Service Connector validation failed",
                     "see the validation details in the portal")]),
    "unwired": (dict(actual=unwired(lambda m: pod_spec(m)["containers"][0].pop("envFrom"))), SQL,
                [("WORKLOAD_NOT_WIRED", f"Deployment/api: container api lacks envFrom {SECRET}",
                  "sc-autopilot rewires it")]),
    "account and label": (dict(actual=unwired(lambda m: (pod_spec(m).pop("serviceAccountName"),
                                                         pod_template(m)["metadata"]["labels"].pop(WI_LABEL)))), OAI,
                          [("WORKLOAD_NOT_WIRED", f"Deployment/api: serviceAccountName is not {ACCOUNT}; "
                                                  f"pod template lacks {WI_LABEL}=true", "sc-autopilot rewires it")]),
    "wi off": (dict(actual=no_identity_on_cluster(compliant_world())), OAI,
               [("CLUSTER_WI_DISABLED", "the cluster's OIDC issuer or workload identity is off",
                 "sc-autopilot puts the connection again, which enables them")]),
    "no account": (dict(actual=dataclasses.replace(compliant_world(), metadata={})), OAI,
                   [("SERVICE_ACCOUNT_MISSING", f"{ACCOUNT} is missing", "sc-autopilot repairs it")]),
    "wrong client": (dict(actual=dataclasses.replace(compliant_world(), metadata={("ServiceAccount", "shop", ACCOUNT): {
                         "annotations": {"azure.workload.identity/client-id": "x"}}})), OAI,
                     [("SERVICE_ACCOUNT_WRONG_CLIENT", "client-id annotation is 'x'",
                       "sc-autopilot puts the connection again")]),
    "no credential": (dict(evidence=dataclasses.replace(GOOD, federated_subjects={})), OAI,
                      [("FEDERATED_CREDENTIAL_MISSING", f"id-shop trusts no token from {SUBJECT} on this cluster",
                        "sc-autopilot puts the connection again, which creates it")]),
    "not wanted": (dict(targets=[OPENAI_TARGET]), SQL,
                   [("NOT_WANTED", "no longer asked for by tags (group, pause or tag removed)",
                     "nothing: the wiring is removed unless the target is paused")]),
    "target gone": (dict(targets=[OPENAI_TARGET],
                         evidence=dataclasses.replace(GOOD, missing_targets=frozenset({DB.id.lower()}))), SQL,
                    [("TARGET_DELETED", "the target resource no longer exists", "nothing: the wiring is removed")]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SAID))
def test_every_reason_says_what_is_wrong_and_what_fixes_it(case):
    given, connection, expected = SAID[case]
    verdict = verdicts(**given)[connection]
    assert [(r.code, r.message, r.fix) for r in verdict.reasons] == expected


def test_only_the_named_container_is_checked_wherever_it_stands():
    def unwired_behind_a_side_container(m):
        containers = pod_spec(m)["containers"]
        containers[0].pop("envFrom")
        containers.insert(0, {"name": "side", "envFrom": [{"secretRef": {"name": naming.secret_name(SQL)}}]})

    target = dataclasses.replace(SQL_TARGET, tags={**SQL_TARGET.tags, "sc-workloads": "deploy/api:api"})
    result = verdicts(unwired(unwired_behind_a_side_container), targets=[target])
    assert [r.message for r in result[SQL].reasons] == [f"Deployment/api: container api lacks envFrom {SECRET}"]


def test_client_ids_compare_without_case_on_the_account_and_the_credentials():
    """Azure gives client ids in lower case; an annotation written in upper case still names the same identity."""
    identity = dataclasses.replace(IDENTITY, client_id="abcdef00-1111-4222-8333-444444444444")
    identities = {**IDENTITIES, IDENTITY.ref: identity}
    actual = state(workload("Deployment", "api"), workload("StatefulSet", "worker"))
    for _ in range(3):
        desired = desired_state(actual, [SQL_TARGET, OPENAI_TARGET], identities, SETTINGS)
        actual = simulate(actual, plan_cluster(desired, actual, SETTINGS).actions)
    info = dataclasses.replace(actual.info, oidc_issuer_url=ISSUER, workload_identity_enabled=True)
    account = naming.service_account_name(identity.client_id)
    annotation = {"annotations": {"azure.workload.identity/client-id": identity.client_id.upper()}}
    actual = dataclasses.replace(actual, info=info, metadata={("ServiceAccount", "shop", account): annotation})
    evidence = dataclasses.replace(GOOD, federated_subjects={
        identity.client_id: frozenset({(ISSUER, f"system:serviceaccount:shop:{account}")})})  # fmt: skip
    desired = desired_state(actual, [SQL_TARGET, OPENAI_TARGET], identities, SETTINGS)
    result = {v.connection: v for v in judge(desired, actual, plan_cluster(desired, actual, SETTINGS), evidence)}
    assert result[OAI].status is Status.COMPLIANT and result[OAI].reasons == ()
