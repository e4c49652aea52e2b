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
                                     "repaired": False, "reasons": []}  # fmt: skip


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
