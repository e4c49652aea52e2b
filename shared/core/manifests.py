"""Workload manifests (dicts as the API server returns them): references, and our recorded wiring. Pure."""

from __future__ import annotations

import copy
import json
from typing import Any

from shared.core.model import Wiring

# kind -> (API group path, plural, path to the pod template inside the object)
WORKLOAD_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "Deployment": ("/apis/apps/v1", "deployments", ("spec", "template")),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", ("spec", "template")),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", ("spec", "template")),
    "Job": ("/apis/batch/v1", "jobs", ("spec", "template")),
    "CronJob": ("/apis/batch/v1", "cronjobs", ("spec", "jobTemplate", "spec", "template")),
}


def template_path(kind: str) -> tuple[str, ...]:
    return WORKLOAD_KINDS[kind][2]


def pod_template(manifest: dict) -> dict:
    node: Any = manifest
    for key in template_path(manifest["kind"]):
        node = (node or {}).get(key) or {}
    return node


def pod_spec(manifest: dict) -> dict:
    return pod_template(manifest).get("spec") or {}


def secret_references(manifest: dict) -> set[str]:
    """Every secret a workload's pods would mount or read: envFrom, env valueFrom, volumes (projected too),
    imagePullSecrets."""
    spec = pod_spec(manifest)
    names: set[str] = set()
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for source in container.get("envFrom") or []:
            if (source.get("secretRef") or {}).get("name"):
                names.add(source["secretRef"]["name"])
        for variable in container.get("env") or []:
            ref = ((variable.get("valueFrom") or {}).get("secretKeyRef")) or {}
            if ref.get("name"):
                names.add(ref["name"])
    for volume in spec.get("volumes") or []:
        if (volume.get("secret") or {}).get("secretName"):
            names.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (source.get("secret") or {}).get("name"):
                names.add(source["secret"]["name"])
    for pull in spec.get("imagePullSecrets") or []:
        if pull.get("name"):
            names.add(pull["name"])
    return names


def env_names(container: dict) -> set[str]:
    """The variables a container sets itself (`env`): they win over any envFrom source."""
    return {str(v["name"]) for v in container.get("env") or [] if isinstance(v, dict) and v.get("name")}


def env_from_secrets(manifest: dict, containers: tuple[str, ...] | None = None) -> dict[str, str]:
    """Secret name -> prefix of every envFrom secretRef of the (named) containers."""
    found: dict[str, str] = {}
    for container in pod_spec(manifest).get("containers") or []:
        if containers is None or container.get("name") in containers:
            for source in container.get("envFrom") or []:
                name = (source.get("secretRef") or {}).get("name")
                if name:
                    found[name] = str(source.get("prefix") or "")
    return found


def service_account_of(manifest: dict) -> str:
    spec = pod_spec(manifest)
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


# -- our wiring, recorded on the workload ------------------------------------------------------------------
WIRING_ANNOTATION = "sc-autopilot.io/wiring"
REVERTS_ANNOTATION = "sc-autopilot.io/reverts"  # reverts of our wiring by others (shared/core/reverts.py)
WI_LABEL = "azure.workload.identity/use"


def read_wirings(manifest: dict) -> dict[str, Wiring]:
    """What we added before, per linker; an unreadable annotation counts as nothing (we never guess)."""
    raw = ((manifest.get("metadata") or {}).get("annotations") or {}).get(WIRING_ANNOTATION)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        return {str(name): Wiring.from_dict(record) for name, record in data.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def carries(manifest: dict, wiring: Wiring) -> bool:
    """The manifest has this wiring, whoever put it there: every container's envFrom names the secret; with
    workload identity, the service account and the pod label are set."""
    containers = {c.get("name"): c for c in pod_spec(manifest).get("containers") or []}
    for name in wiring.containers:
        refs = [(e.get("secretRef") or {}).get("name") for e in (containers.get(name) or {}).get("envFrom") or []]
        if wiring.secret not in refs:
            return False
    if wiring.service_account:
        labels = (pod_template(manifest).get("metadata") or {}).get("labels") or {}
        return pod_spec(manifest).get("serviceAccountName") == wiring.service_account and labels.get(WI_LABEL) == "true"
    return True


def rewire(manifest: dict, wirings: dict[str, Wiring]) -> dict:
    """The manifest with exactly `wirings` as our additions: what we added before and no longer want is taken
    back (only that), what is wanted is added (never duplicated). Pure; the planner and executor share it."""
    result = copy.deepcopy(manifest)
    template = _template(result)
    spec = template.setdefault("spec", {})
    containers = {c.get("name"): c for c in spec.get("containers") or []}
    for linker, old in read_wirings(manifest).items():
        if wirings.get(linker) == old:
            continue
        for name in old.containers:
            container = containers.get(name)
            if container is not None:
                kept = [
                    e for e in container.get("envFrom") or [] if (e.get("secretRef") or {}).get("name") != old.secret
                ]
                _set_or_drop(container, "envFrom", kept)
        if old.service_account and spec.get("serviceAccountName") == old.service_account:
            _set_account(spec, old.previous_service_account)
        if old.label and not any(w.label for w in wirings.values()):
            labels = (template.get("metadata") or {}).get("labels") or {}
            labels.pop(WI_LABEL, None)
    for wiring in wirings.values():
        for name in wiring.containers:
            container = containers.get(name)
            if container is None:
                continue
            entries = container.setdefault("envFrom", [])
            if not any((e.get("secretRef") or {}).get("name") == wiring.secret for e in entries):
                entries.append({"secretRef": {"name": wiring.secret}})
        if wiring.service_account:
            _set_account(spec, wiring.service_account)
        if wiring.label:
            template.setdefault("metadata", {}).setdefault("labels", {})[WI_LABEL] = "true"
    annotations = result.setdefault("metadata", {}).setdefault("annotations", {})
    if _stopped(annotations) and all(carries(manifest, w) for w in wirings.values()):
        annotations.pop(REVERTS_ANNOTATION)  # someone else put the wiring in (we had stopped): re-patching resumes
    if wirings:
        annotations[WIRING_ANNOTATION] = json.dumps(
            {name: wirings[name].to_dict() for name in sorted(wirings)}, sort_keys=True, separators=(",", ":")
        )
    else:
        annotations.pop(WIRING_ANNOTATION, None)
    if not annotations:
        result["metadata"].pop("annotations")
    return result


def _set_account(spec: dict, name: str | None) -> None:
    """serviceAccountName, and the deprecated serviceAccount the API server returns beside it: an object that keeps
    only the old serviceAccount still runs as that account (core/v1 conversion falls back to it)."""
    _set_or_drop(spec, "serviceAccountName", name)
    if "serviceAccount" in spec:
        _set_or_drop(spec, "serviceAccount", name)


def _stopped(annotations: dict) -> bool:
    try:
        return bool(json.loads(annotations.get(REVERTS_ANNOTATION) or "{}").get("stopped"))
    except (ValueError, AttributeError):
        return False


def _template(manifest: dict) -> dict:
    node = manifest
    for key in template_path(manifest["kind"]):
        node = node.setdefault(key, {})
    return node


def _set_or_drop(container: dict, key: str, value: object) -> None:
    if value:
        container[key] = value
    else:
        container.pop(key, None)
