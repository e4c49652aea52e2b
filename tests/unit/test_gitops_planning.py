"""GitOps-managed workloads: detected from metadata, never patched in suggest mode, and the wiring to commit."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from shared.core.codes import Code
from shared.core.gitops import GitOpsTool, GitOpsWiring, gitops_owner, snippet
from shared.core.manifests import carries
from shared.core.model import Wiring, WorkloadRef
from shared.core.plan import RewireWorkload
from shared.core.planner import desired_state, plan_cluster
from tests.planner_world import IDENTITIES, OPENAI_TARGET, SETTINGS, SQL_TARGET, converge, simulate, state, workload

FLUX = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def labelled(kind: str, name: str, labels=None, annotations=None, managers=(), **spec):
    found = workload(kind, name, **spec)
    meta = found.manifest["metadata"]
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if managers:
        meta["managedFields"] = [{"manager": m, "operation": "Apply", "fieldsType": "FieldsV1"} for m in managers]
    return found


@pytest.mark.parametrize(
    ("labels", "annotations", "managers", "tool"),
    [
        (FLUX, {}, (), GitOpsTool.FLUX_KUSTOMIZE),
        ({"helm.toolkit.fluxcd.io/name": "api"}, {}, (), GitOpsTool.FLUX_HELM),
        ({}, {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/api"}, (), GitOpsTool.ARGO_CD),
        ({"app.kubernetes.io/instance": "shop"}, {}, ("argocd-controller",), GitOpsTool.ARGO_CD),
        ({"app.kubernetes.io/instance": "shop"}, {"argocd.argoproj.io/sync-wave": "1"}, (), GitOpsTool.ARGO_CD),
        ({"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "api"}, {}, (), GitOpsTool.HELM),
        ({}, {}, ("kustomize-controller",), GitOpsTool.FLUX_KUSTOMIZE),
        ({}, {}, ("helm-controller",), GitOpsTool.FLUX_HELM),
        ({}, {}, ("argocd-controller",), GitOpsTool.ARGO_CD),
    ],
)
def test_each_tool_is_recognised_from_metadata(labels, annotations, managers, tool):
    owner = gitops_owner(labelled("Deployment", "api", labels, annotations, managers).manifest)
    assert owner is not None and owner.tool is tool


@pytest.mark.parametrize(
    ("labels", "managers"),
    [
        ({}, ()),
        ({"app.kubernetes.io/instance": "shop"}, ()),  # the recommended label alone is not Argo CD's
        ({}, ("kubectl-client-side-apply", "sc-autopilot", "deploy-pipeline")),
    ],
)
def test_workloads_applied_by_hand_or_a_pipeline_are_not_gitops(labels, managers):
    assert gitops_owner(labelled("Deployment", "api", labels, managers=managers).manifest) is None


def test_a_flux_workload_is_not_patched_but_told_what_to_commit():
    api = labelled("Deployment", "api", FLUX, containers=[{"name": "api", "image": "x",
                   "envFrom": [{"configMapRef": {"name": "api-config"}}]}])  # fmt: skip
    actual = converge(state(api), [SQL_TARGET])
    assert actual.workloads[api.ref].manifest == api.manifest  # never patched, over every pass
    desired = desired_state(actual, [SQL_TARGET], IDENTITIES, SETTINGS)
    plan = plan_cluster(desired, actual, SETTINGS)
    assert not [a for a in plan.actions if isinstance(a, RewireWorkload) and a.workload == api.ref]
    [finding] = [f for f in plan.findings if f.code is Code.GITOPS_MANAGED]
    [intent] = desired.intents
    assert "deployment/shop/api is applied by Flux Kustomization (label kustomize.toolkit.fluxcd.io/" in finding.message
    patch, plain, values = yaml.safe_load_all(finding.snippet)
    env_from = [{"configMapRef": {"name": "api-config"}}, {"secretRef": {"name": intent.secret_name}}]
    assert patch["metadata"] == {"name": "api", "namespace": "shop"} and patch["kind"] == "Deployment"
    assert patch["spec"]["template"]["spec"]["containers"] == [{"name": "api", "envFrom": env_from}]
    assert plain == {"spec": patch["spec"]} and values == {"envFrom": env_from}
    # once the manifest carries the wiring, nothing is reported and nothing is planned for it
    wired = copy.deepcopy(api.manifest)
    wired["spec"]["template"]["spec"]["containers"][0]["envFrom"] = env_from
    after = dataclasses.replace(actual, workloads={api.ref: dataclasses.replace(api, manifest=wired)})
    again = plan_cluster(desired_state(after, [SQL_TARGET], IDENTITIES, SETTINGS), after, SETTINGS)
    assert not again.actions and not [f for f in again.findings if f.code is Code.GITOPS_MANAGED]


def test_workload_identity_wiring_names_the_account_and_the_pod_label():
    api = labelled("Deployment", "api", FLUX)
    actual = converge(state(api), [OPENAI_TARGET])
    [finding] = [f for f in plan_cluster(desired_state(actual, [OPENAI_TARGET], IDENTITIES, SETTINGS), actual,
                                         SETTINGS).findings if f.code is Code.GITOPS_MANAGED]  # fmt: skip
    patch, _, values = yaml.safe_load_all(finding.snippet)
    template = patch["spec"]["template"]
    account = IDENTITIES[next(iter(IDENTITIES))].client_id
    assert template["metadata"] == {"labels": {"azure.workload.identity/use": "true"}}
    assert template["spec"]["serviceAccountName"] == f"sc-account-{account}"
    assert values["serviceAccount"] == {"create": False, "name": f"sc-account-{account}"}
    assert values["podLabels"] == {"azure.workload.identity/use": "true"}


def test_patch_mode_patches_gitops_workloads_as_before():
    api = labelled("Deployment", "api", FLUX)
    settings = dataclasses.replace(SETTINGS, gitops_wiring=GitOpsWiring.PATCH)
    actual = converge(state(api), [SQL_TARGET])
    assert actual.workloads[api.ref].manifest == api.manifest
    for _ in range(3):
        planned = plan_cluster(desired_state(actual, [SQL_TARGET], IDENTITIES, settings), actual, settings)
        assert not [f for f in planned.findings if f.code is Code.GITOPS_MANAGED]
        actual = simulate(actual, planned.actions)
    [intent] = desired_state(actual, [SQL_TARGET], IDENTITIES, settings).intents
    assert carries(actual.workloads[api.ref].manifest, Wiring(intent.secret_name, ("api",)))


def test_a_cronjob_snippet_patches_its_job_template():
    report = workload("CronJob", "report")
    text = snippet(report.manifest, WorkloadRef("CronJob", "shop", "report"), [Wiring("sc-s-secret", ("report",))])
    patch = next(yaml.safe_load_all(text))
    containers = patch["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "report", "envFrom": [{"secretRef": {"name": "sc-s-secret"}}]}]


def test_the_settings_of_gitops_wiring_reverts_and_the_wire_timer():
    import json

    from shared.config import ConfigError, Settings
    from tests.conftest import SUB, indexed_functions

    settings = Settings.from_env({"SC_SUBSCRIPTIONS": SUB})
    assert (settings.gitops_wiring, settings.wire_schedule, settings.revert_window_hours) == (
        GitOpsWiring.SUGGEST, "0 */5 * * * *", 24.0,
    )  # fmt: skip
    assert (
        Settings.from_env({"SC_SUBSCRIPTIONS": SUB, "SC_GITOPS_WIRING": " Patch "}).gitops_wiring is GitOpsWiring.PATCH
    )
    for name, value, says in [("SC_GITOPS_WIRING", "fight", "suggest"), ("SC_WIRE_SCHEDULE", "*/5 * * * *", "NCRONTAB"),
                              ("SC_REVERT_WINDOW_HOURS", "-1", "at least")]:  # fmt: skip
        with pytest.raises(ConfigError, match=says):
            Settings.from_env({"SC_SUBSCRIPTIONS": SUB, name: value})
    [binding] = [json.loads(b) for b in indexed_functions()["wire_timer"].get_raw_bindings()]
    assert binding["type"] == "timerTrigger" and binding["schedule"] == "%SC_WIRE_SCHEDULE%"


def test_rewire_sets_and_takes_back_the_deprecated_service_account_the_api_server_returns_beside_the_name():
    from shared.core.manifests import rewire

    wiring = Wiring("sc-s-secret", ("api",), "sc-account-1", "default", label=True)
    served = workload("Deployment", "api", serviceAccountName="default", serviceAccount="default").manifest
    wired = rewire(served, {"scap_x": wiring})
    assert wired["spec"]["template"]["spec"]["serviceAccountName"] == "sc-account-1"
    assert wired["spec"]["template"]["spec"]["serviceAccount"] == "sc-account-1"
    unwired = rewire(wired, {})
    # left with only serviceAccount, kube-apiserver would still run the pods as sc-account-1
    assert unwired["spec"]["template"]["spec"]["serviceAccountName"] == "default"
    assert unwired["spec"]["template"]["spec"]["serviceAccount"] == "default"


def test_the_cli_prints_a_snippet_whole_line_for_line_below_the_findings_table():
    from rich.console import Console

    from shared.cli.output import findings_table
    from shared.core.codes import Finding

    text = snippet(workload("Deployment", "api").manifest, WorkloadRef("Deployment", "shop", "api"),
                   [Wiring("sc-" + "s" * 150 + "-secret", ("api",))])  # fmt: skip
    finding = Finding(Code.GITOPS_MANAGED, "/subscriptions/s/resourceGroups/r/providers/x/y/aks", "api: Flux",
                      "commit the wiring below", "sc-workloads", text)  # fmt: skip
    console = Console(record=True, width=80)
    findings_table([finding.to_dict()], console)
    assert text in console.export_text()  # never wrapped, folded or cut, however narrow the terminal
