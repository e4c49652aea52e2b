"""docs/operations.md answers a platform team's questions, and what it tells them to run agrees with the code:
the in-cluster RBAC YAML grants what the custom role grants, the report path is where reports are written, the
alert watches the metric the sweep emits."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import yaml

from shared.adapters import storage
from shared.core.verdicts import Status
from tests.infra.bicep import Template
from tests.infra.test_infra_template import role_permissions

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
# Azure RBAC data action verbs as Kubernetes verbs (AKS "Use Azure RBAC for Kubernetes authorization": read is
# get/list/watch, write is create/update/patch); the YAML grants the subset the app uses.
VERBS = {"read": {"get", "list"}, "write": {"patch", "update"}, "delete": {"delete"}}
QUESTIONS = [
    "## Deploy, step by step",
    "## Kubernetes access",
    "## Private clusters and authorized IP ranges",
    "## Key Vault: RBAC or access policies",
    "## The first run on an existing estate",
    "## GitOps (Argo CD, Flux, Helm)",
    "## Reports: where they are and how to read them",
    "## Alerting on Error verdicts",
    "## Uninstall and rollback",
]


def manifests() -> list[dict]:
    """The Kubernetes objects in the guide's YAML blocks (other blocks hold patches and Argo CD fragments)."""
    blocks = re.findall(r"```yaml\n(.*?)```", OPERATIONS, re.S)
    return [d for block in blocks for d in yaml.safe_load_all(block) if isinstance(d, dict) and "apiVersion" in d]


def test_the_guide_answers_each_question_of_a_platform_team():
    for heading in QUESTIONS:
        assert heading in OPERATIONS, heading
    for needed in ("--disable-local-accounts", "Updating", "az aks connection", "rolling", "ignoreDifferences",
                   "kustomize", "az keyvault set-policy", "VNet integration", "azd down"):  # fmt: skip
        assert needed in OPERATIONS, needed
    assert "az deployment group create -g" not in OPERATIONS  # plain az does not expand azd's ${...} parameters


def test_the_kubernetes_rbac_yaml_is_valid_and_grants_what_the_custom_role_grants():
    documents = [d for d in manifests() if d["apiVersion"].startswith("rbac.authorization.k8s.io/")]
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)
    [role] = [d for d in documents if d["kind"] == "ClusterRole"]
    [binding] = [d for d in documents if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"] and binding["subjects"][0]["kind"] == "User"
    granted = {
        (g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
    }
    _, data_actions = role_permissions()
    expected = set()
    for action in data_actions:
        path = action.removeprefix("Microsoft.ContainerService/managedClusters/").split("/")
        group, resource, verb = ("", *path) if len(path) == 2 else path
        expected |= {(group, resource, v) for v in VERBS[verb]}
    assert granted == expected


def test_the_report_commands_read_the_container_and_path_the_sweep_writes():
    assert Template("main.bicep").variable("reportsContainer") == storage.CONTAINER
    [download] = re.findall(r"az storage blob download .*?--file", OPERATIONS, re.S)
    assert f"--container-name {storage.CONTAINER}" in download and '--name "reports/' in download
    assert "reports/<yyyy>/<mm>/<dd>/<run id>.json" in OPERATIONS
    assert 'f"reports/{started:%Y/%m/%d}/{run}"' in (ROOT / "shared" / "adapters" / "storage.py").read_text()


def test_the_alert_fires_on_the_error_verdicts_the_sweep_counts():
    main = Template("main.bicep")
    [(body, _)] = main.instances("resources", "errorVerdictAlert")
    properties = main.value(body["properties"])
    [criterion] = properties["criteria"]["allOf"]
    source = (ROOT / "shared" / "adapters" / "telemetry.py").read_text()
    [metric] = re.findall(r'^verdicts = _meter.create_counter\("([^"]+)"', source, re.M)
    expected = f'name == "{metric}" and tostring(customDimensions.verdict) == "{Status.ERROR.value}"'
    assert expected in criterion["query"] and expected in OPERATIONS
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    assert properties["enabled"] is True and [str(s) for s in properties["scopes"]] == ["<insights.id>"]
