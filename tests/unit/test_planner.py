"""The planner, pure: desired + actual -> plan; what apply leaves behind plans to nothing; never touches
what is not ours."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from shared import naming
from shared.model import (
    ClusterInfo,
    ClusterState,
    Connection,
    DeleteLinker,
    DeleteObject,
    IdentityInfo,
    PutLinker,
    RegisterProvider,
    ResourceRef,
    RewireWorkload,
    TargetInfo,
    TargetKind,
    WorkloadRef,
    WorkloadState,
)
from shared.planner import PlannerSettings, desired_state, plan_cluster
from shared.workloads import read_wirings, rewire, secret_references, service_account_of

SUB = "c0ffee00-0000-4000-8000-00000000d370"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
CLUSTER = ResourceRef(f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks")
DB = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/orders")
OPENAI = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai")
UAMI = ResourceRef(f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-shop")
IDENTITY = IdentityInfo(UAMI, "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
UAMI_B = ResourceRef(f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-b")
IDENTITY_B = IdentityInfo(UAMI_B, "33333333-3333-3333-3333-333333333333", "44444444-4444-4444-4444-444444444444")
IDENTITIES = {UAMI: IDENTITY, UAMI_B: IDENTITY_B}
SQL_TAGS = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api,sts/worker",
            "sc-sql-user": "app", "sc-sql-password": "https://kv-shop.vault.azure.net/secrets/pw"}  # fmt: skip
OPENAI_TAGS = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api"}
SETTINGS = PlannerSettings()
MANAGED = frozenset({SUB})


def workload(kind: str, name: str, namespace: str = "shop", **spec) -> WorkloadState:
    pod = {"containers": [{"name": name, "image": "x"}], **spec}
    template = {"metadata": {"labels": {"app": name}}, "spec": pod}
    body = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {"template": template}
    manifest = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace,
                "resourceVersion": "1"}, "spec": body}  # fmt: skip
    return WorkloadState(WorkloadRef(kind, namespace, name), manifest)


def state(
    *workloads: WorkloadState, connections=(), secrets=None, accounts=None, provisioning="Succeeded", cluster_tags=None
):
    return ClusterState(
        info=ClusterInfo(CLUSTER, cluster_tags or {"sc-group": "shop", "sc-identity": "id-shop"}, provisioning),
        connections=tuple(connections),
        workloads={w.ref: w for w in workloads},
        secrets=secrets or {},
        service_accounts=accounts or {"shop": frozenset({"default"})},
        providers={"microsoft.servicelinker": "Registered", "microsoft.kubernetesconfiguration": "Registered"},
    )


def plan(actual: ClusterState, targets: list[TargetInfo]):
    desired = desired_state(actual.info, targets, IDENTITIES, SETTINGS)
    return plan_cluster(desired, actual, SETTINGS, MANAGED)


def simulate(actual: ClusterState, actions) -> ClusterState:
    """What the executor and Service Connector would leave behind (a pure stand-in for the tests)."""
    connections = {c.name: c for c in actual.connections}
    workloads = dict(actual.workloads)
    secrets = {k: set(v) for k, v in actual.secrets.items()}
    accounts = {k: set(v) for k, v in actual.service_accounts.items()}
    providers = dict(actual.providers)
    for action in actions:
        if isinstance(action, RegisterProvider):
            providers[action.namespace.lower()] = "Registered"
        elif isinstance(action, PutLinker):
            i = action.intent
            connections[i.linker_name] = Connection(
                i.linker_name, i.target.id, i.auth.linker_auth_type, i.namespace, i.client_type, "Succeeded",
                i.identity.client_id if i.identity else None, i.sql_user,
            )  # fmt: skip
            secrets.setdefault(i.namespace, set()).add(i.secret_name)
            if i.service_account:
                accounts.setdefault(i.namespace, set()).add(i.service_account)
        elif isinstance(action, DeleteLinker):
            connections.pop(action.name)
        elif isinstance(action, RewireWorkload):
            current = workloads[action.workload]
            workloads[action.workload] = dataclasses.replace(
                current, manifest=rewire(current.manifest, dict(action.wirings))
            )
        elif isinstance(action, DeleteObject):
            (secrets if action.kind == "Secret" else accounts)[action.namespace].discard(action.name)
    return dataclasses.replace(
        actual,
        connections=tuple(connections.values()),
        workloads=workloads,
        secrets={k: frozenset(v) for k, v in secrets.items()},
        service_accounts={k: frozenset(v) for k, v in accounts.items()},
        providers=providers,
    )


def converge(actual: ClusterState, targets: list[TargetInfo], passes: int = 3) -> ClusterState:
    for _ in range(passes):
        actual = simulate(actual, plan(actual, targets).actions)
    return actual


SQL_TARGET = TargetInfo(DB, TargetKind.SQL_DATABASE, SQL_TAGS)
OPENAI_TARGET = TargetInfo(OPENAI, TargetKind.OPENAI, OPENAI_TAGS)


def test_first_pass_creates_the_linker_and_defers_wiring_until_the_secret_exists():
    first = plan(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    assert [type(a) for a in first.actions] == [PutLinker]
    assert first.actions[0].intent.linker_name.startswith("scap_")


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


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(["deploy/api", "sts/worker", "cronjob/report", "deploy/api:api", "deploy/ghost"]), max_size=4
    ),
    st.sampled_from(["secret", "workload-identity"]),
    st.booleans(),
    st.sampled_from(["shop", "other", "kube-system"]),
)
def test_properties_converge_and_never_touch_what_is_not_ours(workloads, auth, pause, namespace):
    tags = {"sc-group": "shop", "sc-namespace": namespace, "sc-workloads": ",".join(workloads), "sc-auth": auth}
    targets = [TargetInfo(OPENAI, TargetKind.OPENAI, {**tags, **({"sc-pause": "true"} if pause else {})})]
    foreign = Connection("by_hand", DB.id, "secret", "shop", "python", "Succeeded")
    start = state(workload("Deployment", "api"), workload("StatefulSet", "worker"), workload("CronJob", "report"),
                  workload("Deployment", "sys", namespace="kube-system"), connections=[foreign],
                  secrets={"shop": frozenset({"sc-byhand-secret", "user-secret"})})  # fmt: skip
    final = converge(start, targets)
    assert plan(final, targets).writes == ()
    for state_ in (start, final):
        for action in plan(state_, targets).actions + plan(state_, []).actions:
            assert getattr(action, "name", "scap_").startswith(("scap_", "sc-"))
            assert getattr(action, "namespace", "shop") != "kube-system"
            assert not (isinstance(action, DeleteObject) and action.name in ("sc-byhand-secret", "user-secret"))
            if isinstance(action, RewireWorkload):
                assert action.workload.namespace != "kube-system"


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
