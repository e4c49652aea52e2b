"""Pure helpers over workload manifests (dicts as the API server returns them)."""

from __future__ import annotations

from typing import Any

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


def service_account_of(manifest: dict) -> str:
    spec = pod_spec(manifest)
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
