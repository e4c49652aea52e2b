"""Orphan clean-up, pure: which Service Connector objects are orphans, and the safety rules before one is deleted
(first sight only marks, a grace period, delete mode, never while referenced, never in a protected namespace, a
per-run cap)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shared.core import naming
from shared.core.orphans import ORPHANED_SINCE, CleanupPolicy, Orphan, OrphanState, plan_orphans, plan_releases
from shared.core.plan import AnnotateObject, DeleteObject
from tests.planner_world import CLUSTER, DB, OPENAI, state, workload

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
DAY_AGO = "2026-11-30T12:00:00Z"  # exactly the default grace period before NOW
DELETE = CleanupPolicy(mode="delete")
CLIENT = "11111111-1111-1111-1111-111111111111"
LINKER = naming.linker_name(DB, "shop")
LINKED_SECRET = naming.secret_name(LINKER)
LINKED_ACCOUNT = naming.service_account_name(CLIENT)


def linker(name=LINKER, client_id=None, namespace="shop"):
    from shared.core.model import Connection

    return Connection(name, DB.id, "secret", namespace, "python", "Succeeded", client_id)


def cluster(*workloads, objects=(), connections=(), since=DAY_AGO):
    """A cluster whose metadata lists `objects` ((kind, namespace, name)), each marked orphaned `since`."""
    annotations = {ORPHANED_SINCE: since} if since is not None else {}
    metadata = {obj: {"name": obj[2], "annotations": dict(annotations)} for obj in objects}
    return dataclasses.replace(state(*workloads, connections=connections), metadata=metadata)


def run(actual, policy=DELETE, now=NOW, left=20):
    return plan_orphans(CLUSTER, actual, policy, now, left)


def states(orphans):
    return {(o.kind, o.namespace, o.name): o.state for o in orphans}


def test_only_unlinked_service_connector_secrets_are_orphans():
    objects = [("Secret", "shop", n) for n in (LINKED_SECRET, "user-secret", "sc-by-hand", "db-secret", "sc-x-secret")]
    actions, orphans, findings = run(cluster(objects=objects, connections=[linker()]))
    assert states(orphans) == {("Secret", "shop", "sc-x-secret"): "deleting"}
    assert actions == [DeleteObject(CLUSTER, "Secret", "shop", "sc-x-secret")] and findings == []


def test_a_secret_linked_by_a_connection_we_do_not_own_is_no_orphan():
    secret = naming.secret_name("by_hand")
    _, orphans, _ = run(cluster(objects=[("Secret", "shop", secret)], connections=[linker("by_hand")]))
    assert orphans == []


def test_only_unlinked_sc_accounts_are_orphans_and_linked_means_same_namespace():
    objects = [("ServiceAccount", "shop", LINKED_ACCOUNT), ("ServiceAccount", "billing", LINKED_ACCOUNT),
               ("ServiceAccount", "shop", "payments"), ("ServiceAccount", "shop", "default"),
               ("ServiceAccount", "shop", "sc-account-other")]  # fmt: skip
    _, orphans, _ = run(cluster(objects=objects, connections=[linker(client_id=CLIENT)]))
    assert states(orphans) == {
        ("ServiceAccount", "billing", LINKED_ACCOUNT): "deleting",
        ("ServiceAccount", "shop", "sc-account-other"): "deleting",
    }


def test_kinds_are_not_confused_a_secret_named_like_an_account_and_back():
    objects = [("Secret", "shop", "sc-account-x"), ("ServiceAccount", "shop", "sc-x-secret")]
    assert run(cluster(objects=objects)) == ([], [], [])


def test_first_sight_only_marks_the_object_with_the_time():
    actions, orphans, _ = run(cluster(objects=[("Secret", "shop", "sc-x-secret")], since=None))
    assert actions == [
        AnnotateObject(CLUSTER, "Secret", "shop", "sc-x-secret", ((ORPHANED_SINCE, "2026-12-01T12:00:00Z"),))
    ]
    assert [(o.state, o.since) for o in orphans] == [("first-seen", None)]


def test_report_mode_never_deletes():
    actions, orphans, _ = run(cluster(objects=[("Secret", "shop", "sc-x-secret")]), policy=CleanupPolicy())
    assert actions == [] and [(o.state, o.since) for o in orphans] == [("report-only", DAY_AGO)]


@pytest.mark.parametrize(
    ("since", "expected"),
    [(DAY_AGO, "deleting"), ("2026-11-30T12:00:01Z", "waiting"), ("2026-12-01T11:59:59Z", "waiting"),
     ("not a time", "waiting"), ("2026-11-30T12:00:00+00:00", "waiting")],
)  # fmt: skip
def test_deletion_waits_the_whole_grace_period_and_an_unreadable_mark_restarts_it(since, expected):
    actions, orphans, _ = run(cluster(objects=[("Secret", "shop", "sc-x-secret")], since=since))
    assert states(orphans) == {("Secret", "shop", "sc-x-secret"): expected}
    assert (actions != []) == (expected == "deleting")


def test_the_grace_period_is_the_policys():
    actual = cluster(objects=[("Secret", "shop", "sc-x-secret")], since="2026-12-01T11:00:00Z")
    assert states(run(actual, CleanupPolicy("delete", timedelta(hours=1)))[1]) == {
        ("Secret", "shop", "sc-x-secret"): "deleting"
    }
    assert states(run(actual, CleanupPolicy("delete", timedelta(hours=2)))[1]) == {
        ("Secret", "shop", "sc-x-secret"): "waiting"
    }


REFERENCES = {
    "envFrom": {"containers": [{"name": "a", "envFrom": [{"secretRef": {"name": "sc-x-secret"}}]}]},
    "env": {"containers": [{"name": "a", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "sc-x-secret",
                                                                                             "key": "k"}}}]}]},
    "initContainers": {"initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "sc-x-secret"}}]}],
                       "containers": [{"name": "a"}]},
    "volume": {"containers": [{"name": "a"}], "volumes": [{"name": "v", "secret": {"secretName": "sc-x-secret"}}]},
    "projected": {"containers": [{"name": "a"}], "volumes": [{"name": "v", "projected": {"sources": [
        {"configMap": {"name": "c"}}, {"secret": {"name": "sc-x-secret"}}]}}]},
    "imagePullSecrets": {"containers": [{"name": "a"}], "imagePullSecrets": [{"name": "sc-x-secret"}]},
}  # fmt: skip


@pytest.mark.parametrize("how", sorted(REFERENCES))
@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_a_referenced_orphan_secret_is_never_deleted_however_it_is_referenced(how, kind):
    user = workload(kind, "api", **REFERENCES[how])
    actions, orphans, findings = run(cluster(user, objects=[("Secret", "shop", "sc-x-secret")]))
    assert actions == [] and states(orphans) == {("Secret", "shop", "sc-x-secret"): "in-use"}
    assert [f.code for f in findings] == ["ORPHAN_IN_USE"] and f"{kind.lower()}/shop/api" in findings[0].message
    assert findings[0].resource_id == CLUSTER.id and "never deleted while referenced" in findings[0].fix


def test_the_finding_names_every_user():
    users = [workload(kind, name, **REFERENCES["volume"]) for kind, name in (("Deployment", "api"), ("Job", "etl"))]
    _, _, (finding,) = run(cluster(*users, objects=[("Secret", "shop", "sc-x-secret")]))
    assert (
        finding.message == "Secret shop/sc-x-secret has no connection but is used by deployment/shop/api, job/shop/etl"
    )


def test_a_reference_from_another_namespace_does_not_keep_an_orphan():
    user = workload("Deployment", "api", namespace="billing", **REFERENCES["envFrom"])
    actions, _, _ = run(cluster(user, objects=[("Secret", "shop", "sc-x-secret")]))
    assert actions == [DeleteObject(CLUSTER, "Secret", "shop", "sc-x-secret")]


@pytest.mark.parametrize("field", ["serviceAccountName", "serviceAccount"])
def test_an_orphan_account_a_pod_runs_as_is_never_deleted(field):
    user = workload("StatefulSet", "worker", **{field: "sc-account-x"})
    elsewhere = workload("Deployment", "api", namespace="billing", serviceAccountName="sc-account-x")
    objects = [("ServiceAccount", "shop", "sc-account-x"), ("ServiceAccount", "billing", "sc-account-y")]
    actions, orphans, findings = run(cluster(user, elsewhere, objects=objects))
    assert states(orphans) == {("ServiceAccount", "shop", "sc-account-x"): "in-use",
                               ("ServiceAccount", "billing", "sc-account-y"): "deleting"}  # fmt: skip
    assert actions == [DeleteObject(CLUSTER, "ServiceAccount", "billing", "sc-account-y")]
    assert [f.code for f in findings] == ["ORPHAN_IN_USE"]


def test_a_secret_is_not_in_use_because_a_pod_runs_as_an_account_of_that_name():
    user = workload("Deployment", "api", serviceAccountName="sc-x-secret")
    actions, _, _ = run(cluster(user, objects=[("Secret", "shop", "sc-x-secret")]))
    assert actions == [DeleteObject(CLUSTER, "Secret", "shop", "sc-x-secret")]


def test_protected_namespaces_are_never_looked_at_and_the_others_still_are():
    policy = dataclasses.replace(DELETE, protected_namespaces=("kube-system",))
    objects = [("Secret", "kube-system", "sc-x-secret"), ("ServiceAccount", "kube-system", "sc-account-x")]
    assert run(cluster(objects=objects), policy) == ([], [], [])
    after = [("Secret", "kube-system", "sc-x-secret"), ("Secret", "shop", "sc-x-secret")]  # sorted: protected first
    assert run(cluster(objects=after), policy)[0] == [DeleteObject(CLUSTER, "Secret", "shop", "sc-x-secret")]


@pytest.mark.parametrize(("left", "deleted"), [(0, 0), (1, 1), (2, 2), (3, 3), (5, 3)])
def test_the_per_run_cap_stops_deletions_and_says_so(left, deleted):
    objects = [("Secret", "shop", f"sc-{n}-secret") for n in "abc"]
    actions, orphans, findings = run(cluster(objects=objects), left=left)
    assert actions == [DeleteObject(CLUSTER, "Secret", "shop", f"sc-{n}-secret") for n in "abc"[:deleted]]
    assert [o.state for o in orphans] == ["deleting"] * deleted + ["capped"] * (3 - deleted)
    assert [f.code for f in findings] == ["DELETION_CAP_REACHED"] * (3 - deleted)
    assert all(
        "cap" in f.message and f.resource_id == CLUSTER.id and "SC_MAX_DELETIONS_PER_RUN" in f.fix for f in findings
    )


def test_the_cap_counts_only_deletions_not_marks_or_objects_in_use():
    objects = [("Secret", "shop", "sc-a-secret"), ("Secret", "shop", "sc-b-secret"), ("Secret", "shop", "sc-c-secret")]
    actual = cluster(workload("Deployment", "api", imagePullSecrets=[{"name": "sc-a-secret"}]), objects=objects)
    actions, orphans, _ = run(actual, left=1)
    assert [o.state for o in orphans] == ["in-use", "deleting", "capped"]
    assert actions == [DeleteObject(CLUSTER, "Secret", "shop", "sc-b-secret")]


def test_other_clusters_targets_do_not_matter_only_this_clusters_linkers():
    other = linker(naming.linker_name(OPENAI, "shop"))
    objects = [("Secret", "shop", naming.secret_name(other.name))]
    _, orphans, _ = run(cluster(objects=objects, connections=[other]))
    assert orphans == []


def test_the_cap_finding_says_which_object_and_which_setting_to_raise():
    _, _, (finding,) = run(cluster(objects=[("Secret", "shop", "sc-x-secret")]), left=0)
    assert (finding.message, finding.fix) == (
        "Secret shop/sc-x-secret is due for deletion but the per-run cap is reached",
        "raise SC_MAX_DELETIONS_PER_RUN if this many orphans are expected",
    )


def test_held_connections_are_released_in_name_order_through_the_orphan_rules():
    """Held for a missing consent: a connection without its secret or in a protected namespace is only reported,
    one seen first is marked, due ones are released in name order until the cap, the rest are capped."""
    held = [linker(n) for n in ("scap_p", "scap_d", "scap_c", "scap_b", "scap_a", "scap_0")]  # not in name order
    held[0] = linker("scap_p", namespace="kube-system")
    due = {("Secret", "shop", naming.secret_name(n)): DAY_AGO for n in ("scap_a", "scap_b", "scap_c")}
    marks = {("Secret", "shop", naming.secret_name("scap_d")): None,
             ("Secret", "kube-system", naming.secret_name("scap_p")): DAY_AGO}  # fmt: skip
    marked = {**due, **marks}.items()
    metadata = {key: {"annotations": {ORPHANED_SINCE: since} if since else {}} for key, since in marked}
    actual = dataclasses.replace(state(connections=held), metadata=metadata)
    policy = dataclasses.replace(DELETE, protected_namespaces=("kube-system",))
    actions, released, orphans, findings = plan_releases(CLUSTER, actual, held, policy, NOW, 2)
    assert released == frozenset({"scap_a", "scap_b"})
    assert actions == [
        AnnotateObject(CLUSTER, "Secret", "shop", "sc-scapd-secret", ((ORPHANED_SINCE, "2026-12-01T12:00:00Z"),))
    ]
    assert orphans == [
        Orphan("Secret", "shop", "sc-scapa-secret", DAY_AGO, OrphanState.DELETING),
        Orphan("Secret", "shop", "sc-scapb-secret", DAY_AGO, OrphanState.DELETING),
        Orphan("Secret", "shop", "sc-scapc-secret", DAY_AGO, OrphanState.CAPPED),
        Orphan("Secret", "shop", "sc-scapd-secret", None, OrphanState.FIRST_SEEN),
    ]
    assert [(f.code, f.message) for f in findings] == [
        ("DELETION_CAP_REACHED", "Secret shop/sc-scapc-secret is due for deletion but the per-run cap is reached")
    ]
