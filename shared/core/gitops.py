"""Workloads a GitOps tool owns, and the wiring to commit instead of patching them. Pure.

A workload applied by Flux, Argo CD or Helm is put back to its manifest by the next reconcile (Flux applies
server-side with force; `envFrom` is an atomic list, so a manifest that declares any `envFrom` takes the whole list
back), so patching it starts a fight in which every round is a rolling restart. Detection reads metadata only
(labels, annotations, managedFields), so it works on metadata-only lists.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from enum import StrEnum

from shared.core.manifests import WI_LABEL, WORKLOAD_KINDS, pod_spec
from shared.core.model import Wiring, WorkloadRef

# Every Kubernetes write of ours is attributed to this manager in managedFields, so what sc-autopilot owns is visible
# and GitOps tools can exempt exactly our fields (Argo CD ignoreDifferences.managedFieldsManagers).
FIELD_MANAGER = "sc-autopilot"


class GitOpsWiring(StrEnum):
    """SC_GITOPS_WIRING: what to do with a GitOps-managed workload that lacks its wiring."""

    SUGGEST = "suggest"  # leave it to its manifest; report GITOPS_MANAGED with the wiring to commit
    PATCH = "patch"  # patch it anyway (and exempt our fields in the GitOps tool, docs/operations.md)


class GitOpsTool(StrEnum):
    FLUX_KUSTOMIZE = "Flux Kustomization"
    FLUX_HELM = "Flux HelmRelease"
    ARGO_CD = "Argo CD"
    HELM = "Helm"


# The field managers the tools write under (docs/FACTS.md section "GitOps field managers")
MANAGERS: dict[str, GitOpsTool] = {
    "kustomize-controller": GitOpsTool.FLUX_KUSTOMIZE,
    "helm-controller": GitOpsTool.FLUX_HELM,
    "argocd-controller": GitOpsTool.ARGO_CD,
    "argocd-application-controller": GitOpsTool.ARGO_CD,
}
LABEL_PREFIXES = (("kustomize.toolkit.fluxcd.io/", GitOpsTool.FLUX_KUSTOMIZE),
                  ("helm.toolkit.fluxcd.io/", GitOpsTool.FLUX_HELM))  # fmt: skip
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_ANNOTATION_PREFIX = "argocd.argoproj.io/"
INSTANCE_LABEL = "app.kubernetes.io/instance"  # Argo CD's label tracking (Helm charts set it too)
MANAGED_BY = "app.kubernetes.io/managed-by"


@dataclass(frozen=True)
class GitOpsOwner:
    tool: GitOpsTool
    evidence: str  # what gave it away, e.g. "label kustomize.toolkit.fluxcd.io/name=apps"


def gitops_owner(manifest: dict) -> GitOpsOwner | None:
    """The GitOps tool that applies this workload, from its labels, annotations and managedFields; None when no
    tool is seen (a workload applied by hand or by a pipeline is patched as before)."""
    meta = manifest.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    for key in sorted(labels):
        for prefix, tool in LABEL_PREFIXES:
            if key.startswith(prefix):
                return GitOpsOwner(tool, f"label {key}={labels[key]}")
    if annotations.get(ARGO_TRACKING):
        return GitOpsOwner(GitOpsTool.ARGO_CD, f"annotation {ARGO_TRACKING}={annotations[ARGO_TRACKING]}")
    managers = sorted({str(e.get("manager")) for e in meta.get("managedFields") or [] if isinstance(e, dict)})
    argo_seen = any(MANAGERS.get(m) is GitOpsTool.ARGO_CD for m in managers) or any(
        k.startswith(ARGO_ANNOTATION_PREFIX) for k in annotations
    )
    if labels.get(INSTANCE_LABEL) and argo_seen and labels.get(MANAGED_BY) != "Helm":
        return GitOpsOwner(GitOpsTool.ARGO_CD, f"label {INSTANCE_LABEL}={labels[INSTANCE_LABEL]} (Argo CD tracking)")
    for manager in managers:
        if manager in MANAGERS:
            return GitOpsOwner(MANAGERS[manager], f"field manager {manager}")
    if labels.get(MANAGED_BY) == "Helm":
        return GitOpsOwner(GitOpsTool.HELM, f"label {MANAGED_BY}=Helm")
    return None


# -- the wiring to commit ------------------------------------------------------------------------------------
def snippet(manifest: dict, ref: WorkloadRef, wirings: list[Wiring]) -> str:
    """The wiring to commit, whole and copyable: a Kustomize patch, the same lines for a plain manifest, and a
    Helm values hint. `envFrom` is an atomic list (a patch replaces it whole), so the entries the manifest already
    has are repeated in front of ours."""
    fragment = _fragment(manifest, wirings)
    patch = {"apiVersion": manifest.get("apiVersion", _api_version(ref.kind)), "kind": ref.kind,
             "metadata": {"name": ref.name, "namespace": ref.namespace}, **fragment}  # fmt: skip
    patch_file = f"sc-autopilot-{ref.kind.lower()}-{ref.name}.yaml"
    return "\n".join([
        f"# Kustomize: add to kustomization.yaml\n#   patches:\n#     - path: {patch_file}\n# and commit {patch_file}:",
        _yaml(patch).rstrip(),
        "---",
        f"# Plain manifest: merge these lines into the {ref.kind} {ref.namespace}/{ref.name}:",
        _yaml(fragment).rstrip(),
        "---",
        "# Helm: values for a chart made by `helm create` (serviceAccount, podLabels); a chart without an envFrom",
        "# value renders it from the container with: envFrom: {{- toYaml .Values.envFrom | nindent 12 }}",
        _yaml(helm_values(manifest, wirings)).rstrip(),
    ])  # fmt: skip


def helm_values(manifest: dict, wirings: list[Wiring]) -> dict:
    values: dict = {"envFrom": _env_from(manifest, wirings, _wired_containers(wirings)[0])}
    account = next((w.service_account for w in wirings if w.service_account), None)
    if account:
        values["serviceAccount"] = {"create": False, "name": account}
        values["podLabels"] = {WI_LABEL: "true"}
    return values


def _fragment(manifest: dict, wirings: list[Wiring]) -> dict:
    template: dict = {}
    account = next((w.service_account for w in wirings if w.service_account), None)
    if account:
        template["metadata"] = {"labels": {WI_LABEL: "true"}}
    spec: dict = {}
    if account:
        spec["serviceAccountName"] = account
    spec["containers"] = [{"name": name, "envFrom": _env_from(manifest, wirings, name)}
                          for name in _wired_containers(wirings)]  # fmt: skip
    template["spec"] = spec
    node: dict = {"template": template}
    for key in reversed(WORKLOAD_KINDS[manifest["kind"]][2][1:-1]):  # CronJob: spec.jobTemplate.spec.template
        node = {key: node}
    return {"spec": node}


def _env_from(manifest: dict, wirings: list[Wiring], container: str) -> list[dict]:
    """The container's envFrom as it should read: what the manifest has (ours left out), then our secrets."""
    ours = [w.secret for w in wirings if container in w.containers]
    current = next((c for c in pod_spec(manifest).get("containers") or [] if c.get("name") == container), {})
    kept = [
        copy.deepcopy(e) for e in current.get("envFrom") or [] if (e.get("secretRef") or {}).get("name") not in ours
    ]
    return kept + [{"secretRef": {"name": secret}} for secret in dict.fromkeys(ours)]


def _wired_containers(wirings: list[Wiring]) -> list[str]:
    return list(dict.fromkeys(name for w in wirings for name in w.containers))


def _api_version(kind: str) -> str:
    return WORKLOAD_KINDS[kind][0].removeprefix("/apis/")


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _yaml(document: dict) -> str:
    """Block YAML as kubectl writes it (the core stays free of third-party code, so no YAML library here)."""
    return "\n".join(_yaml_lines(document, 0)) + "\n"


def _yaml_lines(value: object, depth: int) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines += [f"{pad}{_scalar(key)}:", *_yaml_lines(item, depth + 1)]
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            nested = _yaml_lines(item, depth + 1) if isinstance(item, dict | list) and item else [_scalar(item)]
            lines += [f"{pad}- {nested[0].lstrip()}", *nested[1:]]
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value)
