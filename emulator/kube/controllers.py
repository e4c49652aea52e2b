"""What the workload controllers write into `status`, so a client can follow a rollout as `kubectl rollout status`
does. The emulator runs no pods: each workload's rollouts either complete at once (the default, as a healthy
cluster's controllers converge) or are held (a new pod that never becomes ready). A held Deployment reports
`ProgressDeadlineExceeded` once `progressDeadlineSeconds` (default 600) have passed since its rollout began, as the
deployment controller does; a StatefulSet or DaemonSet has no deadline and stays on its old revision.

Status shapes follow the apps/v1 types (zero counts omitted, as the API server's JSON does): Deployment
`observedGeneration`, `replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas`, `unavailableReplicas`,
`conditions` (Available, Progressing with the reasons NewReplicaSetAvailable / ReplicaSetUpdated /
ProgressDeadlineExceeded and their messages); StatefulSet `currentRevision`/`updateRevision`; DaemonSet
`desiredNumberScheduled`/`updatedNumberScheduled`/`numberAvailable`."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

ROLLING = ("deployments", "statefulsets", "daemonsets")
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DAEMONSET_NODES = 2  # the emulated cluster's node count, for DaemonSets
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' pod-template-hash (rand.SafeEncodeString)


class RolloutMode(StrEnum):
    COMPLETE = "complete"  # every rollout converges at once
    HOLD = "hold"  # a rollout's new pods never become ready


@dataclass
class Rollout:
    """The controller's memory of one workload: its current revision, the revision being rolled to, since when."""

    current: str
    target: str
    started: float
    mode: RolloutMode = RolloutMode.COMPLETE


class Controllers:
    """Per cluster: the rollouts of its Deployments, StatefulSets and DaemonSets (keyed by plural, namespace, name)."""

    def __init__(self) -> None:
        self._rollouts: dict[tuple[str, str, str], Rollout] = {}

    def set_mode(self, key: tuple[str, str, str], mode: RolloutMode, obj: dict | None) -> None:
        """Hold this workload's rollouts, or let them (and the one held now) complete."""
        rollout = self._rollouts.get(key)
        if rollout is None and obj is not None:
            revision = template_hash(obj)
            rollout = self._rollouts[key] = Rollout(revision, revision, time.time())
        if rollout is not None:
            rollout.mode = mode
            if mode is RolloutMode.COMPLETE:
                rollout.current = rollout.target

    def forget(self, key: tuple[str, str, str]) -> None:
        self._rollouts.pop(key, None)

    def observe(self, key: tuple[str, str, str], obj: dict, now: float | None = None) -> None:
        """The controllers' reaction to a write of `obj`: a new template starts a rollout; status follows."""
        now = time.time() if now is None else now
        revision = template_hash(obj)
        rollout = self._rollouts.get(key)
        if rollout is None:  # a new workload: its first pods come up (held only if asked)
            rollout = self._rollouts[key] = Rollout(revision, revision, now)
        elif rollout.target != revision:
            rollout.target, rollout.started = revision, now
            if rollout.mode is RolloutMode.COMPLETE:
                rollout.current = revision
        obj["status"] = self.status(key, obj, now)

    def status(self, key: tuple[str, str, str], obj: dict, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        rollout = self._rollouts[key]
        plural = key[0]
        if plural == "deployments":
            return _deployment(obj, rollout, now)
        if plural == "statefulsets":
            return _statefulset(obj, rollout)
        return _daemonset(obj, rollout)

    def held(self) -> list[tuple[str, str, str]]:
        return [key for key, r in self._rollouts.items() if r.current != r.target]


def template_hash(obj: dict) -> str:
    template = (obj.get("spec") or {}).get("template") or {}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def _deployment(obj: dict, rollout: Rollout, now: float) -> dict:
    name, replicas = obj["metadata"]["name"], (obj.get("spec") or {}).get("replicas", 1)
    replica_set = f"{name}-{rollout.target}"
    started = _time(rollout.started)
    deadline = (obj.get("spec") or {}).get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)
    available = _condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                           started)  # fmt: skip
    if rollout.current == rollout.target:
        counts = {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
                  "availableReplicas": replicas}  # fmt: skip
        progressing = _condition("Progressing", "True", "NewReplicaSetAvailable",
                                 f'ReplicaSet "{replica_set}" has successfully progressed.', started)  # fmt: skip
    else:  # maxSurge 25% (rounded up): one new pod, never ready; the old ones keep serving
        surge = 1 if replicas else 0
        counts = {"replicas": replicas + surge, "updatedReplicas": surge, "readyReplicas": replicas,
                  "availableReplicas": replicas, "unavailableReplicas": surge}  # fmt: skip
        if now - rollout.started > deadline:
            progressing = _condition("Progressing", "False", "ProgressDeadlineExceeded",
                                     f'ReplicaSet "{replica_set}" has timed out progressing.',
                                     _time(rollout.started + deadline))  # fmt: skip
        else:
            progressing = _condition("Progressing", "True", "ReplicaSetUpdated",
                                     f'ReplicaSet "{replica_set}" is progressing.', started)  # fmt: skip
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        **{k: v for k, v in counts.items() if v},
        "conditions": [available, progressing],
    }


def _statefulset(obj: dict, rollout: Rollout) -> dict:
    name, replicas = obj["metadata"]["name"], (obj.get("spec") or {}).get("replicas", 1)
    done = rollout.current == rollout.target
    # RollingUpdate replaces pods from the highest ordinal down: a held one is the first pod, never ready
    ready = replicas if done else max(replicas - 1, 0)
    counts = {"replicas": replicas, "readyReplicas": ready, "currentReplicas": replicas if done else ready,
              "updatedReplicas": replicas if done else 0, "availableReplicas": ready}  # fmt: skip
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        **{k: v for k, v in counts.items() if v},
        "currentRevision": f"{name}-{rollout.current}",
        "updateRevision": f"{name}-{rollout.target}",
        "collisionCount": 0,
    }


def _daemonset(obj: dict, rollout: Rollout) -> dict:
    done = rollout.current == rollout.target
    nodes = DAEMONSET_NODES
    ready = nodes if done else nodes - 1  # maxUnavailable 1: one old pod replaced by a new one never ready
    status = {
        "currentNumberScheduled": nodes,
        "desiredNumberScheduled": nodes,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "observedGeneration": obj["metadata"].get("generation", 1),
        "updatedNumberScheduled": nodes if done else 1,
    }
    if not done:
        status["numberUnavailable"] = nodes - ready
    return status


def _condition(kind: str, status: str, reason: str, message: str, at: str) -> dict:
    return {"type": kind, "status": status, "lastUpdateTime": at, "lastTransitionTime": at, "reason": reason,
            "message": message}  # fmt: skip


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
