"""The planner, pure: desired + actual -> plan; what apply leaves behind plans to nothing; never touches
what is not ours."""

from __future__ import annotations

import dataclasses

from shared.core import naming
from shared.core.manifests import read_wirings, secret_references, service_account_of
from shared.core.model import Connection, TargetInfo, TargetKind, WorkloadRef
from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RegisterProvider, RewireWorkload
from tests.planner_world import (
    DB,
    IDENTITY,
    OPENAI_TARGET,
    SQL_TAGS,
    SQL_TARGET,
    converge,
    plan,
    simulate,
    state,
    workload,
)


def test_first_pass_creates_the_linker_and_defers_wiring_until_the_secret_exists():
    first = plan(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    assert [type(a) for a in first.immediate] == [PutLinker]
    assert first.actions[0].intent.linker_name.startswith("scap_")


def test_the_plan_shows_the_patches_that_follow_a_linker_still_to_be_put():
    """Every write apply makes is in the first plan: the patches that wait for the new linker are marked so, and are
    exactly the ones the next pass applies once the secret exists."""
    actual = state(workload("Deployment", "api"), workload("StatefulSet", "worker"))
    first = plan(actual, [SQL_TARGET])
    put, *patches = first.writes
    linker = put.intent.linker_name
    assert {p.workload.name for p in patches} == {"api", "worker"}
    assert all(p.after_linkers == (linker,) and f"(after linker {linker} is put)" in p.describe() for p in patches)
    assert first.immediate == (put,)
    second = plan(simulate(actual, first.immediate), [SQL_TARGET])
    assert [(p.workload, p.wirings) for p in second.writes] == [(p.workload, p.wirings) for p in patches]
    assert all(not p.after_linkers for p in second.writes)


def test_apply_then_replan_is_empty_and_workloads_carry_the_secret():
    actual = converge(
        state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET, OPENAI_TARGET]
    )
    assert plan(actual, [SQL_TARGET, OPENAI_TARGET]).is_empty
    api = actual.workloads[WorkloadRef("Deployment", "shop", "api")].manifest
    assert len(secret_references(api)) == 2 and service_account_of(api) == f"sc-account-{IDENTITY.client_id}"
    assert set(read_wirings(api)) == {c.name for c in actual.connections}


def test_unregistered_providers_are_registered_first():
    actual = dataclasses.replace(state(workload("Deployment", "api")), providers={})
    assert [type(a) for a in plan(actual, [SQL_TARGET]).actions][:2] == [RegisterProvider, RegisterProvider]


def test_removing_the_target_unwires_deletes_linker_secret_and_account():
    actual = converge(
        state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET, OPENAI_TARGET]
    )
    removal = plan(actual, [])
    kinds = {type(a) for a in removal.actions}
    assert kinds == {RewireWorkload, DeleteLinker, DeleteObject}
    assert {a.kind for a in removal.actions if isinstance(a, DeleteObject)} == {"Secret", "ServiceAccount"}
    after = converge(actual, [])
    api = after.workloads[WorkloadRef("Deployment", "shop", "api")].manifest
    assert secret_references(api) == set() and service_account_of(api) == "default"
    assert "annotations" not in api["metadata"]


def test_a_secret_still_used_by_someone_else_is_kept():
    actual = converge(state(workload("Deployment", "api")), [SQL_TARGET])
    secret = naming.secret_name(naming.linker_name(DB, "shop"))
    user = workload("Deployment", "billing", volumes=[{"name": "db", "secret": {"secretName": secret}}])
    actual = dataclasses.replace(actual, workloads={**actual.workloads, user.ref: user})
    removal = plan(actual, [])
    assert not any(isinstance(a, DeleteObject) for a in removal.actions)
    assert any(f.code == "SECRET_IN_USE" for f in removal.findings)


def test_paused_target_is_held_as_it_is():
    actual = converge(state(workload("Deployment", "api")), [SQL_TARGET])
    paused = TargetInfo(DB, TargetKind.SQL_DATABASE, {"sc-pause": "true"})
    assert plan(actual, [paused]).is_empty


def test_foreign_linkers_are_never_touched():
    foreign = Connection("by_hand", DB.id, "secret", "shop", "python", "Succeeded")
    assert plan(state(workload("Deployment", "api"), connections=[foreign]), []).is_empty


def test_a_foreign_service_account_is_reported_not_replaced():
    actual = converge(state(workload("Deployment", "api", serviceAccountName="payments")), [OPENAI_TARGET])
    api = actual.workloads[WorkloadRef("Deployment", "shop", "api")].manifest
    assert service_account_of(api) == "payments"
    assert any(f.code == "SA_CONFLICT" for f in plan(actual, [OPENAI_TARGET]).findings)


def test_a_busy_cluster_is_deferred_with_no_writes():
    result = plan(state(workload("Deployment", "api"), provisioning="Updating"), [SQL_TARGET])
    assert result.writes == () and result.deferred


def test_sql_with_workload_identity_reports_the_exact_tsql():
    target = TargetInfo(DB, TargetKind.SQL_DATABASE, {**SQL_TAGS, "sc-auth": "workload-identity"})
    finding = next(
        f for f in plan(state(workload("Deployment", "api")), [target]).findings if f.code == "SQL_WI_DB_USER_REQUIRED"
    )
    assert "CREATE USER [id-shop] FROM EXTERNAL PROVIDER;" in finding.fix


def test_a_linker_still_being_provisioned_is_waited_for_not_put_over():
    actual = converge(state(workload("Deployment", "api")), [SQL_TARGET])
    (linker,) = actual.connections
    busy = dataclasses.replace(actual, connections=(dataclasses.replace(linker, provisioning_state="Updating"),))
    result = plan(busy, [dataclasses.replace(SQL_TARGET, tags={**SQL_TAGS, "sc-client-type": "java"})])
    assert result.writes == () and result.deferred


def test_an_owned_linker_to_an_unmanaged_subscription_keeps_its_wiring():
    actual = converge(state(workload("Deployment", "api")), [SQL_TARGET])
    elsewhere = DB.id.replace(DB.subscription_id, "99999999-9999-4999-8999-999999999999")
    moved = dataclasses.replace(
        actual, connections=tuple(dataclasses.replace(c, target_id=elsewhere) for c in actual.connections)
    )
    assert plan(moved, []).is_empty
