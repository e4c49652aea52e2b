"""One cluster's objects, with the API server's bookkeeping (uid, resourceVersion, generation, timestamps)."""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from emulator.kube import errors
from emulator.kube.controllers import ROLLING, Controllers, RolloutMode
from emulator.kube.resources import BY_KIND, Kind

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation")
DEFAULT_IMAGE = "mcr.microsoft.com/azurelinux/base/core:3.0"


class ObjectStore:
    """Thread-safe objects of one cluster, keyed by (plural, namespace, name); namespace '' if cluster-scoped."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._version = 0
        self.controllers = Controllers()
        for name in SYSTEM_NAMESPACES:
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    # -- reads -----------------------------------------------------------------------------------------
    def get(self, plural: str, namespace: str | None, name: str) -> dict | None:
        with self._lock:
            self._advance()
            found = self._objects.get((plural, namespace or "", name))
            return copy.deepcopy(found) if found else None

    def list(self, plural: str, namespace: str | None = None) -> list[dict]:
        with self._lock:
            self._advance()
            items = [
                copy.deepcopy(obj)
                for (p, ns, _), obj in self._objects.items()
                if p == plural and (namespace is None or ns == namespace)
            ]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    @property
    def resource_version(self) -> str:
        return str(self._version)

    # -- writes ----------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def rolled_back(self) -> Iterator[None]:
        """Writes inside are undone on exit (a dryRun=All request); other requests wait meanwhile."""
        with self._lock:
            # writes replace objects, never change them in place; the controllers' memory is undone too
            saved = (dict(self._objects), self._version, copy.deepcopy(self.controllers))
            try:
                yield
            finally:
                self._objects, self._version, self.controllers = saved

    def create(self, obj: dict) -> dict:
        kind = _kind_of(obj)
        key = _key(kind, obj)
        with self._lock:
            if key in self._objects:
                raise errors.already_exists(kind.plural, kind.group, key[2])
            self._require_namespace(kind, key[1])
            stored = defaulted(kind, copy.deepcopy(obj))
            meta = stored.setdefault("metadata", {})
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_timestamp()
            if kind.has_generation:
                meta["generation"] = 1
                stored.pop("status", None)  # the apiserver drops status on create (status is a subresource)
            if kind.plural == "namespaces":
                finalizers = stored.setdefault("spec", {}).setdefault("finalizers", [])
                if "kubernetes" not in finalizers:
                    finalizers.append("kubernetes")
                stored["status"] = {"phase": "Active"}
            return self._store(key, stored)

    def update(self, obj: dict) -> dict:
        """PUT semantics: a resourceVersion in the body must match (409 otherwise); none means unconditional."""
        kind = _kind_of(obj)
        key = _key(kind, obj)
        with self._lock:
            current = self._objects.get(key)
            if current is None:
                raise errors.not_found(kind.plural, kind.group, key[2])
            sent = (obj.get("metadata") or {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise errors.conflict(kind.plural, kind.group, key[2])
            stored = defaulted(kind, copy.deepcopy(obj))
            meta = stored.setdefault("metadata", {})
            for name in ("uid", "creationTimestamp"):
                meta[name] = current["metadata"][name]
            if kind.has_generation or kind.plural == "namespaces":  # status is a subresource: updates keep it
                stored.pop("status", None)
                if "status" in current:
                    stored["status"] = copy.deepcopy(current["status"])
            if kind.has_generation:
                meta["generation"] = current["metadata"].get("generation", 1) + (
                    1 if _bumps(kind, current, stored) else 0
                )
            if _comparable(stored) == _comparable(current):
                return copy.deepcopy(current)  # a no-op write does not bump resourceVersion
            return self._store(key, stored)

    def apply(self, obj: dict) -> dict:
        """Create or replace without precondition (used by the emulator itself, not by API clients)."""
        kind = _kind_of(obj)
        with self._lock:
            if _key(kind, obj) in self._objects:
                replacement = copy.deepcopy(obj)
                replacement["metadata"].pop("resourceVersion", None)
                return self.update(replacement)
            return self.create(obj)

    def delete(self, plural: str, namespace: str | None, name: str) -> bool:
        with self._lock:
            removed = self._objects.pop((plural, namespace or "", name), None)
            if removed is not None and plural == "namespaces":
                for key in [k for k in self._objects if k[1] == name]:
                    del self._objects[key]
            if removed is not None:
                self._version += 1
                self.controllers.forget((plural, namespace or "", name))
            return removed is not None

    def set_rollout_mode(self, plural: str, namespace: str, name: str, mode: RolloutMode) -> dict:
        """Hold a workload's rollouts (its new pods never become ready) or let them complete (the admin knob)."""
        key = (plural, namespace, name)
        with self._lock:
            current = self._objects.get(key)
            if plural not in ROLLING or current is None:
                raise errors.not_found(plural, "apps", name)
            self.controllers.set_mode(key, mode, current)
            return self._restatus(key)

    def _advance(self) -> None:
        """The controllers' clock: a held Deployment passes its progress deadline while nobody writes to it."""
        for key in self.controllers.held():
            if key in self._objects:
                self._restatus(key)

    def _restatus(self, key: tuple[str, str, str]) -> dict:
        current = self._objects[key]
        status = self.controllers.status(key, current)
        if status == current.get("status"):
            return copy.deepcopy(current)
        return self._store(key, {**current, "status": status}, observe=False)

    def snapshot(self) -> dict:
        """{plural: [objects]} for the admin state endpoint."""
        with self._lock:
            result: dict[str, list[dict]] = {}
            for (plural, _, _), obj in sorted(self._objects.items()):
                result.setdefault(plural, []).append(copy.deepcopy(obj))
            return result

    # -- scenario --------------------------------------------------------------------------------------
    def load(self, spec: dict) -> None:
        """`{namespaces: [...], workloads: [compact], objects: [manifests]}` (docs/emulator-kubernetes.md)."""
        for entry in spec.get("namespaces") or []:  # a name, or {name, annotations, labels}
            meta = {"name": entry} if isinstance(entry, str) else {k: v for k, v in entry.items() if v}
            current = self.get("namespaces", None, meta["name"])
            if current is None:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
            elif meta.keys() - {"name"}:  # e.g. annotations on `default`, which always exists
                current["metadata"] |= meta
                self.update(current)
        for compact in spec.get("workloads") or []:
            self.create(expand_workload(compact))
        for manifest in spec.get("objects") or []:
            self.create(manifest)

    def _require_namespace(self, kind: Kind, namespace: str) -> None:
        if kind.namespaced and ("namespaces", "", namespace) not in self._objects:
            raise errors.not_found("namespaces", "", namespace)

    def _store(self, key: tuple[str, str, str], obj: dict, observe: bool = True) -> dict:
        if observe and key[0] in ROLLING:
            self.controllers.observe(key, obj)
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)
        self._objects[key] = obj
        return copy.deepcopy(obj)


def expand_workload(compact: dict) -> dict:
    """A compact scenario workload -> a valid manifest with consistent selector and labels."""
    kind, name, namespace = compact["kind"], compact["name"], compact.get("namespace", "default")
    labels = {"app": name, **(compact.get("labels") or {})}
    containers = []
    for entry in compact.get("containers") or [name]:
        container = {"name": entry, "image": DEFAULT_IMAGE} if isinstance(entry, str) else dict(entry)
        container.setdefault("image", DEFAULT_IMAGE)
        containers.append(container)
    if compact.get("envFrom"):
        containers[0]["envFrom"] = compact["envFrom"]
    pod_spec: dict = {"containers": containers}
    if compact.get("serviceAccountName"):
        pod_spec["serviceAccountName"] = compact["serviceAccountName"]
    if compact.get("volumes"):
        pod_spec["volumes"] = compact["volumes"]
    if kind in ("Job", "CronJob"):
        pod_spec["restartPolicy"] = "Never"
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    manifest: dict = {
        "apiVersion": BY_KIND[kind].api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
    }
    if kind == "CronJob":
        manifest["spec"] = {
            "schedule": compact.get("schedule", "0 * * * *"),
            "jobTemplate": {"spec": {"template": template}},
        }
    elif kind == "Job":
        manifest["spec"] = {"template": template}
    else:
        manifest["spec"] = {"selector": {"matchLabels": {"app": name}}, "template": template}
        if kind == "StatefulSet":
            manifest["spec"]["serviceName"] = name
    return manifest


def _kind_of(obj: dict) -> Kind:
    kind = BY_KIND.get(obj.get("kind", ""))
    if kind is None:
        raise errors.status_error(400, "BadRequest", f"the kind {obj.get('kind')!r} is not served")
    return kind


def _key(kind: Kind, obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "default") if kind.namespaced else ""
    return kind.plural, namespace, meta.get("name", "")


def defaulted(kind: Kind, obj: dict) -> dict:
    """The few apiserver defaults that callers read back: Secret `type` and workloads' `spec.replicas`."""
    if kind.kind == "Secret":
        obj.setdefault("type", "Opaque")
    if kind.kind in ("Deployment", "StatefulSet") and isinstance(obj.get("spec"), dict):
        obj["spec"].setdefault("replicas", 1)
    pod = _pod_spec(obj) if kind.has_generation else None
    if pod:  # core/v1 conversion: the deprecated serviceAccount mirrors serviceAccountName (which wins if both)
        name = pod.get("serviceAccountName") or pod.get("serviceAccount")
        if name:
            pod["serviceAccountName"] = pod["serviceAccount"] = name
    return obj


def _pod_spec(obj: dict) -> dict | None:
    node = obj.get("spec")
    path = ("jobTemplate", "spec", "template", "spec") if obj.get("kind") == "CronJob" else ("template", "spec")
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _bumps(kind: Kind, old: dict, new: dict) -> bool:
    """Spec changes bump generation; for Deployments annotation changes too (they are copied to ReplicaSets)."""
    if old.get("spec") != new.get("spec"):
        return True
    annotations = [(o.get("metadata") or {}).get("annotations") or {} for o in (old, new)]
    return kind.kind == "Deployment" and annotations[0] != annotations[1]


def _comparable(obj: dict) -> dict:
    clone = copy.deepcopy(obj)
    clone.get("metadata", {}).pop("resourceVersion", None)
    return clone


def now_timestamp() -> str:
    """RFC 3339 in whole seconds, as the apiserver writes creationTimestamp and managedFields times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
