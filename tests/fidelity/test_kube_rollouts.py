"""The emulated workload controllers (emulator/kube/controllers.py): what `status` says through a rollout, in the
apps/v1 shapes a real cluster gives (validated against the Kubernetes 1.33 schema), so the product's rollout
confirmation is tested on what it will read in Azure."""

from __future__ import annotations

import copy
import time

import kubernetes_validate

from emulator.kube.controllers import RolloutMode
from emulator.kube.store import ObjectStore, expand_workload


def store_with(kind: str, name: str = "api") -> ObjectStore:
    store = ObjectStore()
    store.create(expand_workload({"kind": kind, "name": name, "namespace": "default"}))
    return store


def retemplated(store: ObjectStore, plural: str, name: str = "api", value: str = "2") -> dict:
    current = store.get(plural, "default", name)
    changed = copy.deepcopy(current)
    changed["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})["rev"] = value
    return store.update(changed)


def progressing(deployment: dict) -> dict:
    return next(c for c in deployment["status"]["conditions"] if c["type"] == "Progressing")


def test_a_deployment_converges_at_once_and_a_held_one_times_out_past_its_progress_deadline():
    store = store_with("Deployment")
    created = store.get("deployments", "default", "api")
    kubernetes_validate.validate(created, "1.33.0", strict=True)
    assert created["status"]["observedGeneration"] == 1 and created["status"]["updatedReplicas"] == 1
    assert progressing(created)["reason"] == "NewReplicaSetAvailable"
    store.set_rollout_mode("deployments", "default", "api", RolloutMode.HOLD)
    current = store.get("deployments", "default", "api")
    current["spec"]["progressDeadlineSeconds"] = 1
    store.update(current)  # a spec change that leaves the template alone: no rollout
    held = retemplated(store, "deployments")
    status = held["status"]
    assert status["observedGeneration"] == held["metadata"]["generation"] == 3
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (2, 1, 1)
    assert progressing(held)["reason"] == "ReplicaSetUpdated"
    time.sleep(1.2)
    stuck = store.get("deployments", "default", "api")
    kubernetes_validate.validate(stuck, "1.33.0", strict=True)
    assert progressing(stuck)["status"] == "False" and progressing(stuck)["reason"] == "ProgressDeadlineExceeded"
    assert progressing(stuck)["message"].endswith("has timed out progressing.")
    store.set_rollout_mode("deployments", "default", "api", RolloutMode.COMPLETE)
    done = store.get("deployments", "default", "api")
    assert progressing(done)["reason"] == "NewReplicaSetAvailable" and done["status"]["updatedReplicas"] == 1


def test_an_annotation_on_the_deployment_itself_bumps_its_generation_but_rolls_nothing():
    store = store_with("Deployment")
    store.set_rollout_mode("deployments", "default", "api", RolloutMode.HOLD)
    current = store.get("deployments", "default", "api")
    current["metadata"].setdefault("annotations", {})["note"] = "x"
    updated = store.update(current)
    assert updated["metadata"]["generation"] == 2 and updated["status"]["observedGeneration"] == 2
    assert progressing(updated)["reason"] == "NewReplicaSetAvailable"


def test_a_statefulset_and_a_daemonset_report_their_revisions_and_updated_pods():
    store = store_with("StatefulSet", "worker")
    before = store.get("statefulsets", "default", "worker")["status"]
    assert before["currentRevision"] == before["updateRevision"]
    store.set_rollout_mode("statefulsets", "default", "worker", RolloutMode.HOLD)
    held = retemplated(store, "statefulsets", "worker")
    kubernetes_validate.validate(held, "1.33.0", strict=True)
    assert held["status"]["currentRevision"] == before["currentRevision"] != held["status"]["updateRevision"]
    daemons = store_with("DaemonSet", "agent")
    daemons.set_rollout_mode("daemonsets", "default", "agent", RolloutMode.HOLD)
    held = retemplated(daemons, "daemonsets", "agent")
    kubernetes_validate.validate(held, "1.33.0", strict=True)
    assert held["status"]["updatedNumberScheduled"] < held["status"]["desiredNumberScheduled"]
