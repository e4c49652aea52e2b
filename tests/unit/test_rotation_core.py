"""Rotation, pure (shared/core/rotation.py and the Key Vault events of shared/core/eventgrid.py): which version a
connection should hold, the digest that rolls a consumer exactly when its secrets' content changed, and what the
workload controllers' status says about the rollout."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from shared.core import rotation
from shared.core.eventgrid import Ignored, SecretEvent, SecretHint, parse_event
from shared.core.model import VaultVersion

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
VAULT = "https://kv-shop.vault.azure.net"


def kv_event(data: dict, event_type: str = "Microsoft.KeyVault.SecretNewVersionCreated") -> dict:
    return {"id": "e1", "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-shop",
            "subject": "sql-orders-password", "eventType": event_type, "eventTime": "2026-12-06T12:00:00Z",
            "data": data, "dataVersion": "1", "metadataVersion": "1"}  # fmt: skip


def test_a_vault_event_is_a_secret_hint_whatever_the_case_and_stray_spaces_of_its_keys():
    """FACTS.md section 10: the documented sample has stray spaces in a key and a value."""
    data = {"Id": f"{VAULT}/secrets/sql-orders-password/abc", " vaultName": "KV-shop ", "ObjectType": "Secret",
            "OBJECTNAME": "Sql-Orders-Password", "Version": "abc", "NBF": None, "EXP": 1798000000}  # fmt: skip
    assert parse_event(kv_event(data)) == SecretHint(
        "kv-shop", "sql-orders-password", "abc", SecretEvent.NEW_VERSION, "e1", 1798000000
    )
    cloud = {"specversion": "1.0", "id": "e2", "source": "/subscriptions/s", "type": "Microsoft.KeyVault.SecretExpired",
             "subject": "sql-orders-password", "data": {**data, "EXP": None}}  # fmt: skip
    assert parse_event(cloud) == SecretHint("kv-shop", "sql-orders-password", "abc", SecretEvent.EXPIRED, "e2")


def test_a_vault_event_that_does_not_name_a_secret_is_ignored_with_its_reason():
    base = {"VaultName": "kv-shop", "ObjectType": "Secret", "ObjectName": "pw", "Version": "abc"}
    for data, reason in (
        ({**base, "ObjectType": "Key"}, "is not a secret"),
        ({**base, "VaultName": "kv/../other"}, "is not a Key Vault secret"),
        ({**base, "ObjectName": "a b"}, "is not a Key Vault secret"),
        ({**base, "Version": "../x"}, "is not a Key Vault version"),
    ):
        outcome = parse_event(kv_event(data))
        assert isinstance(outcome, Ignored) and reason in outcome.reason
    assert isinstance(parse_event(kv_event("not a dict")), Ignored)  # type: ignore[arg-type]


def version(name: str, created: int, **fields) -> VaultVersion:
    return VaultVersion(VAULT, "pw", name, created=NOW - timedelta(hours=created), **fields)


def test_the_current_version_is_the_newest_enabled_and_valid_one():
    versions = [version("a", 3), version("b", 2), version("c", 1, enabled=False),
                version("d", 0, not_before=NOW + timedelta(days=1))]  # fmt: skip
    assert rotation.current_version(versions, NOW).version == "b"
    same_second = [version("x", 1), version("y", 1)]  # Key Vault's one-second `created`: the later listed wins
    assert rotation.current_version(same_second, NOW).version == "y"
    assert rotation.current_version([version("c", 1, enabled=False)], NOW) is None


def test_expiry_is_valid_near_or_expired():
    warning = timedelta(days=14)
    assert rotation.expiry(version("a", 1), NOW, warning) is rotation.Expiry.VALID
    assert rotation.expiry(version("a", 1, expires=NOW + timedelta(days=15)), NOW, warning) is rotation.Expiry.VALID
    assert rotation.expiry(version("a", 1, expires=NOW + timedelta(days=14)), NOW, warning) is rotation.Expiry.NEAR
    assert rotation.expiry(version("a", 1, expires=NOW), NOW, warning) is rotation.Expiry.EXPIRED


def deployment(template_annotations: dict | None = None, annotations: dict | None = None, **status) -> dict:
    template: dict = {"spec": {"containers": [{"name": "api"}]}}
    if template_annotations:
        template["metadata"] = {"annotations": template_annotations}
    return {"kind": "Deployment", "metadata": {"name": "api", "generation": 2, "annotations": annotations or {}},
            "spec": {"replicas": 2, "template": template}, "status": status}  # fmt: skip


def test_the_digest_rolls_a_consumer_only_when_its_content_changed():
    digest = rotation.combined_digest(["s1", "s2"], {"s1": "d1", "s2": "d2"})
    assert digest == rotation.combined_digest(["s2", "s1"], {"s2": "d2", "s1": "d1"})
    assert rotation.combined_digest(["s1", "s3"], {"s1": "d1"}) is None  # unknown: never roll on a guess
    carrying = deployment({rotation.DIGEST_ANNOTATION: digest})
    assert rotation.stamp_digest(carrying, carrying, digest) == carrying  # the same content: no write at all
    changed = rotation.stamp_digest(carrying, carrying, "other")
    assert rotation.rolls_out(carrying, changed) and changed["spec"]["template"]["metadata"]["annotations"] == {
        rotation.DIGEST_ANNOTATION: "other"}  # fmt: skip


def test_a_consumer_wired_before_digests_gets_a_baseline_that_rolls_nothing_then_rolls_once_on_change():
    legacy = deployment()
    baseline = rotation.stamp_digest(legacy, legacy, "d1")
    assert baseline["spec"] == legacy["spec"] and baseline["metadata"]["annotations"] == {
        rotation.DIGEST_ANNOTATION: "d1"}  # fmt: skip
    assert not rotation.rolls_out(legacy, baseline)
    assert rotation.stamp_digest(baseline, baseline, "d1") == baseline
    rolled = rotation.stamp_digest(baseline, baseline, "d2")
    assert rotation.rolls_out(baseline, rolled) and rotation.DIGEST_ANNOTATION not in rolled["metadata"]["annotations"]
    marked = rotation.mark_rolled(baseline, rolled, "2026-12-06T12:00:00Z")
    assert marked["metadata"]["annotations"][rotation.ROLLED_AT_ANNOTATION] == "2026-12-06T12:00:00Z"
    job = {**copy.deepcopy(legacy), "kind": "Job"}  # its next pod reads the secret afresh
    assert rotation.stamp_digest(job, job, "d2") == job


def conditions(reason: str, status: str = "True", message: str = "") -> list[dict]:
    return [{"type": "Available", "status": "True"},
            {"type": "Progressing", "status": status, "reason": reason, "message": message}]  # fmt: skip


def test_a_deployment_rollout_is_complete_pending_or_stuck_as_its_status_says():
    done = deployment(observedGeneration=2, replicas=2, updatedReplicas=2, availableReplicas=2,
                      conditions=conditions("NewReplicaSetAvailable"))  # fmt: skip
    assert rotation.rollout_state(done, NOW).state is rotation.Rollout.COMPLETE
    running = deployment(observedGeneration=2, replicas=3, updatedReplicas=1, availableReplicas=2,
                         conditions=conditions("ReplicaSetUpdated"))  # fmt: skip
    assert rotation.rollout_state(running, NOW).state is rotation.Rollout.PENDING
    unseen = deployment(observedGeneration=1, replicas=2, updatedReplicas=2, availableReplicas=2)
    assert rotation.rollout_state(unseen, NOW).state is rotation.Rollout.PENDING
    message = 'ReplicaSet "api-7c9d" has timed out progressing.'
    stuck = deployment(observedGeneration=2, replicas=3, updatedReplicas=1, availableReplicas=2,
                       conditions=conditions("ProgressDeadlineExceeded", "False", message))  # fmt: skip
    state = rotation.rollout_state(stuck, NOW)
    assert state.state is rotation.Rollout.STUCK and message in state.message


def test_statefulsets_and_daemonsets_are_stuck_only_past_the_deadline_since_we_rolled_them():
    rolled = {rotation.ROLLED_AT_ANNOTATION: (NOW - timedelta(seconds=601)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    status = {"observedGeneration": 2, "readyReplicas": 1, "currentRevision": "worker-a", "updateRevision": "worker-b"}
    sts = {"kind": "StatefulSet", "metadata": {"name": "worker", "generation": 2, "annotations": rolled},
           "spec": {"replicas": 1}, "status": status}  # fmt: skip
    assert rotation.rollout_state(sts, NOW).state is rotation.Rollout.STUCK
    assert rotation.rollout_state(sts, NOW - timedelta(seconds=10)).state is rotation.Rollout.PENDING
    sts["status"]["currentRevision"] = "worker-b"
    assert rotation.rollout_state(sts, NOW).state is rotation.Rollout.COMPLETE
    ds = {"kind": "DaemonSet", "metadata": {"name": "agent", "generation": 3},
          "status": {"observedGeneration": 3, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1,
                     "numberAvailable": 1}}  # fmt: skip
    assert rotation.rollout_state(ds, NOW).state is rotation.Rollout.PENDING  # no record of when: never stuck
    ds["status"] |= {"updatedNumberScheduled": 2, "numberAvailable": 2}
    assert rotation.rollout_state(ds, NOW).state is rotation.Rollout.COMPLETE


def test_a_plan_rolls_at_most_what_the_run_has_left_and_defers_the_rest():
    from shared.core.codes import Code
    from shared.core.ids import ResourceRef
    from shared.core.model import WorkloadRef
    from shared.core.plan import Defer, Plan, RewireWorkload

    cluster = ResourceRef.parse(
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/"
        "Microsoft.ContainerService/managedClusters/aks"
    )
    rolls = [RewireWorkload(cluster, WorkloadRef("Deployment", "shop", n), (), rolls=True) for n in ("a", "b", "c")]
    wiring = RewireWorkload(cluster, WorkloadRef("Deployment", "shop", "d"), ())  # wires, rolls nothing of ours
    plan = Plan(cluster, (*rolls, wiring))
    assert rotation.hold_rollouts(plan, 3) == (plan, 3)
    held, spent = rotation.hold_rollouts(plan, 1)
    assert spent == 1 and [a for a in held.actions if isinstance(a, RewireWorkload)] == [rolls[0], wiring]
    waits = [a for a in held.actions if isinstance(a, Defer)]
    assert [d.workload.name for d in waits] == ["b", "c"] and all(d.linker is None for d in waits)
    assert [f.code for f in held.findings] == [Code.ROLLOUTS_HELD]
    none_left, spent = rotation.hold_rollouts(plan, 0)
    assert spent == 0 and not any(isinstance(a, RewireWorkload) and a.rolls for a in none_left.actions)
