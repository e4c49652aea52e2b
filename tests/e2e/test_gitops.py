"""Coexisting with GitOps on the local cloud: our own field manager, GitOps-managed workloads left to their
manifests (GITOPS_MANAGED and its snippet), snippets applied as the GitOps tools apply them, reverts noticed."""

from __future__ import annotations

import copy
import html
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from shared import report
from shared.config import Settings
from shared.container import Application
from shared.core.verdicts import Status
from tests.conftest import CLUSTER, DATABASE, OPENAI, Admin, demo_spec, kube_call
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate, env_from_secrets

OPERATIONS = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
WORKLOADS = (("Deployment", "api"), ("Deployment", "web"), ("StatefulSet", "worker"), ("CronJob", "report"))
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FLUX_LABELS = {"kustomize.toolkit.fluxcd.io/name": "shop", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
IMAGE = "mcr.microsoft.com/azurelinux/base/core:3.0"


def managers(obj: dict) -> dict[str, dict]:
    return {e["manager"]: e for e in (obj.get("metadata") or {}).get("managedFields") or []}


def deployment(name: str, containers: list[dict], **meta: dict) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop", **meta},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}},
    }  # fmt: skip


def server_side_apply(admin, manifest: dict, manager: str) -> dict:
    """As Flux's kustomize-controller, Argo CD (ServerSideApply=true) or helm-controller apply: server-side apply
    with force under the tool's field manager."""
    meta = manifest["metadata"]
    path = (f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}"
            f"?fieldManager={manager}&force=true")  # fmt: skip
    return kube_call(admin, CLUSTER, "PATCH", path, manifest, "application/apply-patch+yaml")


def flux_apply(admin, source: Path) -> None:
    """What kustomize-controller does with a Kustomization: `kustomize build`, its labels on every object, then
    server-side apply with force as kustomize-controller."""
    built = subprocess.run(["kubectl", "kustomize", str(source)], capture_output=True, text=True, check=True).stdout
    for document in yaml.safe_load_all(built):
        document["metadata"].setdefault("labels", {}).update(FLUX_LABELS)
        server_side_apply(admin, document, "kustomize-controller")


def without(spec: dict, *names: str) -> dict:
    """The demo estate without some of its workloads (a GitOps tool deploys them in the test)."""
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]["kubernetes"]
    cluster["workloads"] = [w for w in cluster["workloads"] if w["name"] not in names]
    return spec


def merge_lines(manifest: dict, lines: dict) -> dict:
    """What a person does with the plain manifest lines: merge them in (containers by name)."""
    result = copy.deepcopy(manifest)
    for key, value in lines.items():
        if key == "containers":
            by_name = {c["name"]: c for c in result.setdefault(key, [])}
            for container in value:
                by_name[container["name"]].update(container)
        elif isinstance(value, dict):
            result[key] = merge_lines(result.get(key) or {}, value)
        else:
            result[key] = value
    return result


def gitops_findings(document: dict) -> list[dict]:
    return [f for f in document["findings"] if f["code"] == "GITOPS_MANAGED"]


@pytest.mark.realkube
def test_every_write_of_ours_is_owned_by_sc_autopilot(estate, app):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    assert app.events.handle(estate.new_events()).ok
    for kind, name in WORKLOADS:
        entry = managers(estate.workload(kind, name))["sc-autopilot"]
        assert (entry["operation"], entry["fieldsType"]) == ("Update", "FieldsV1")
        owned = entry["fieldsV1"]
        assert "f:sc-autopilot.io/wiring" in owned["f:metadata"]["f:annotations"]
        template = owned["f:spec"]["f:jobTemplate"]["f:spec"] if kind == "CronJob" else owned["f:spec"]
        containers = template["f:template"]["f:spec"]["f:containers"]
        assert all("f:envFrom" in fields for fields in containers.values()), (kind, name)


@pytest.mark.realkube
def test_a_flux_workload_is_left_alone_and_its_kustomize_patch_makes_it_compliant(make_cloud, tmp_path):
    admin = Admin(make_cloud(without(demo_spec(), "api")))
    estate, app = Estate(admin), Application(Settings.from_env())
    source = tmp_path / "shop"
    source.mkdir()
    base = deployment("api", [{"name": "api", "image": IMAGE, "envFrom": [{"configMapRef": {"name": "api-config"}}]}])
    (source / "deployment.yaml").write_text(yaml.safe_dump(base))
    (source / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["deployment.yaml"]}))
    flux_apply(admin, source)
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    run = app.events.handle(estate.new_events())
    api = estate.workload("Deployment", "api")
    assert "sc-autopilot" not in managers(api) and env_from_secrets(api) == []  # untouched
    assert env_from_secrets(estate.workload("StatefulSet", "worker"))  # the other workload is wired as before
    [finding] = [f for f in run.findings if f.code == "GITOPS_MANAGED"]
    secret = next(s for s in env_from_secrets(estate.workload("StatefulSet", "worker")))
    assert f"name: {secret}" in finding.snippet and "name: api-config" in finding.snippet
    assert f"```yaml\n{finding.snippet}\n```" in OPERATIONS  # the guide shows exactly this finding
    sweep = app.sweeper.run(now=NOW)
    document = report.to_json(sweep)
    [shown] = gitops_findings(document)
    assert shown["snippet"] == finding.snippet  # whole in the JSON
    assert f'<pre class="snippet">{html.escape(finding.snippet)}</pre>' in report.to_html(document)  # and the page
    [verdict] = [v for c in sweep.clusters for v in c.verdicts if v.target.lower() == DATABASE.lower()]
    assert verdict.status is Status.DRIFTED and [r.code for r in verdict.reasons] == ["GITOPS_MANAGED"]

    # the platform team commits the patch as the finding says; Flux applies it
    _, patch_yaml = finding.snippet.split("---")[0].rsplit("\n# and commit ", 1)
    file_name, patch_text = patch_yaml.split(":\n", 1)
    (source / file_name).write_text(patch_text)
    (source / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["deployment.yaml"],
                                                                "patches": [{"path": file_name}]}))  # fmt: skip
    flux_apply(admin, source)
    api = estate.workload("Deployment", "api")
    assert env_from_secrets(api) and api["spec"]["template"]["spec"]["containers"][0]["envFrom"][0] == {
        "configMapRef": {"name": "api-config"}
    }  # the manifest's own entry kept: envFrom is atomic, the patch repeats it
    mark = admin.mark()
    sweep = app.sweeper.run(now=NOW)
    assert [v.status for c in sweep.clusters for v in c.verdicts] == [Status.COMPLIANT]
    assert gitops_findings(report.to_json(sweep)) == []
    assert "sc-autopilot" not in managers(estate.workload("Deployment", "api"))
    assert estate.writes_since(mark) == []


@pytest.mark.realkube
def test_argo_cd_and_helm_workloads_get_plain_lines_and_values_that_make_them_compliant(make_cloud):
    admin = Admin(make_cloud(without(demo_spec(), "api", "web")))
    estate, app = Estate(admin), Application(Settings.from_env())
    tracking = {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"}
    web = deployment("web", [{"name": "web", "image": IMAGE}, {"name": "nginx", "image": IMAGE}],
                     annotations=tracking)  # fmt: skip
    server_side_apply(admin, web, "argocd-controller")  # Argo CD with ServerSideApply=true
    helm_labels = {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "api"}
    server_side_apply(admin, helm_chart("api", {}, helm_labels), "helm-controller")
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    run = app.events.handle(estate.new_events())
    findings = {f.message.split(" ")[0]: f for f in run.findings if f.code == "GITOPS_MANAGED"}
    assert sorted(findings) == ["deployment/shop/api", "deployment/shop/web"]
    for name in ("api", "web"):
        assert "sc-autopilot" not in managers(estate.workload("Deployment", name))
    # Argo CD: the plain lines merged into the manifest in Git, synced server-side
    _, lines, _ = yaml.safe_load_all(findings["deployment/shop/web"].snippet)
    server_side_apply(admin, merge_lines(web, lines), "argocd-controller")
    # Helm: the values hint rendered by the chart (helm create's deployment template), applied by helm-controller
    _, _, values = yaml.safe_load_all(findings["deployment/shop/api"].snippet)
    server_side_apply(admin, helm_chart("api", values, helm_labels), "helm-controller")
    sweep = app.sweeper.run(now=NOW)
    assert [v.status for c in sweep.clusters for v in c.verdicts] == [Status.COMPLIANT, Status.COMPLIANT]
    web_now = estate.workload("Deployment", "web")
    assert web_now["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert web_now["spec"]["template"]["spec"]["serviceAccountName"].startswith("sc-account-")


@pytest.mark.realkube
def test_patch_mode_wiring_survives_a_flux_reapply_of_a_manifest_that_does_not_declare_it(
    make_cloud, monkeypatch, tmp_path
):
    admin = Admin(make_cloud(without(demo_spec(), "api")))
    monkeypatch.setenv("SC_GITOPS_WIRING", "patch")
    estate, app = Estate(admin), Application(Settings.from_env())
    source = tmp_path / "shop"
    source.mkdir()
    (source / "deployment.yaml").write_text(yaml.safe_dump(deployment("api", [{"name": "api", "image": IMAGE}])))
    (source / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["deployment.yaml"]}))
    flux_apply(admin, source)
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    assert app.events.handle(estate.new_events()).ok
    secret = env_from_secrets(estate.workload("Deployment", "api"))[0]  # patched, as asked
    flux_apply(admin, source)  # the next reconcile: server-side apply with force, the manifest without envFrom
    api = estate.workload("Deployment", "api")
    assert env_from_secrets(api) == [secret] and "f:envFrom" in str(managers(api)["sc-autopilot"]["fieldsV1"])
    mark = admin.mark()
    sweep = app.sweeper.run(now=NOW)
    assert [v.status for c in sweep.clusters for v in c.verdicts] == [Status.COMPLIANT]
    assert estate.writes_since(mark) == []  # no fight: nothing to re-patch


def helm_chart(name: str, values: dict, labels: dict) -> dict:
    """A stand-in for `helm template` of a chart made by `helm create` (with an envFrom value, as the hint says):
    serviceAccount.name, podLabels and envFrom rendered where that chart renders them."""
    account = (values.get("serviceAccount") or {}).get("name") or "default"
    container = {"name": name, "image": IMAGE, **({"envFrom": values["envFrom"]} if values.get("envFrom") else {})}
    manifest = deployment(name, [container], labels=dict(labels))
    template = manifest["spec"]["template"]
    template["metadata"]["labels"].update(values.get("podLabels") or {})
    template["spec"]["serviceAccountName"] = account
    return manifest


@pytest.mark.realkube
def test_a_pipeline_that_keeps_reverting_the_wiring_gets_one_repatch_then_wiring_reverted(make_cloud):
    admin = Admin(make_cloud(without(demo_spec(), "api")))
    estate, app = Estate(admin), Application(Settings.from_env())
    original = deployment("api", [{"name": "api", "image": IMAGE, "envFrom": [{"configMapRef": {"name": "api-cfg"}}]}])
    server_side_apply(admin, original, "deploy-pipeline")  # a CI pipeline, not a GitOps tool: patched as before
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    assert app.events.handle(estate.new_events()).ok
    secret = env_from_secrets(estate.workload("Deployment", "api"))[0]
    mark = admin.mark()
    wired_after_each = []
    for _ in range(3):
        server_side_apply(admin, original, "deploy-pipeline")  # the pipeline re-applies the original manifest
        assert env_from_secrets(estate.workload("Deployment", "api")) == []
        estate.rolled_out()  # as the pipeline waits for its rollout (a real cluster's takes a moment)
        sweep = app.sweeper.run(now=NOW)
        wired_after_each.append(env_from_secrets(estate.workload("Deployment", "api")) == [secret])
    assert wired_after_each == [True, False, False]  # one re-patch, then left as the pipeline leaves it
    ours = [r for r in admin.requests_since(mark)
            if r["method"] == "PATCH" and r["path"].endswith("/deployments/api") and r["status"] < 400
            and (r["principal"] or "").startswith("sc-autopilot")]  # fmt: skip
    assert len(ours) == 2  # the re-patch, then the annotation that records the stop (no pod template change)
    [finding] = [f for f in report.to_json(sweep)["findings"] if f["code"] == "WIRING_REVERTED"]
    assert "removed by deploy-pipeline 2 time(s)" in finding["message"]
    assert f"name: {secret}" in finding["snippet"] and "name: api-cfg" in finding["snippet"]
    [verdict] = [v for c in sweep.clusters for v in c.verdicts]
    assert [r.code for r in verdict.reasons] == ["WIRING_REVERTED"]
    # the pipeline's manifest now carries the wiring (the snippet's plain lines): Compliant, the stop is lifted
    _, lines, _ = yaml.safe_load_all(finding["snippet"])
    server_side_apply(admin, merge_lines(original, lines), "deploy-pipeline")
    estate.rolled_out()  # the pipeline's apply changed the template: on a real cluster, Pending until it rolls out
    sweep = app.sweeper.run(now=NOW)
    assert [v.status for c in sweep.clusters for v in c.verdicts] == [Status.COMPLIANT]
    api = estate.workload("Deployment", "api")
    assert "sc-autopilot.io/reverts" not in api["metadata"].get("annotations", {})


def test_wire_timer_wires_a_workload_deployed_after_its_connection_with_kubernetes_reads_and_no_arm_write(
    make_cloud, monkeypatch
):
    from azure.functions.timer import TimerRequest

    from shared import container
    from tests.conftest import indexed_functions

    admin = Admin(make_cloud(without(demo_spec(), "api", "web")))
    monkeypatch.setenv("SC_WIRE_SCHEDULE", "0 */5 * * * *")
    estate, app = Estate(admin), Application(Settings.from_env())
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    app.events.handle(estate.new_events())  # infrastructure first: the connections exist, api and web do not yet
    secret = env_from_secrets(estate.workload("StatefulSet", "worker"))[0]
    # the team deploys api (a plain pipeline) and web (Flux) minutes later: no Azure event says so
    kube_call(admin, CLUSTER, "POST", "/apis/apps/v1/namespaces/shop/deployments",
              deployment("api", [{"name": "api", "image": IMAGE}]), "application/json")  # fmt: skip
    web = deployment("web", [{"name": "web", "image": IMAGE}], labels=dict(FLUX_LABELS))
    server_side_apply(admin, web, "kustomize-controller")
    wire_timer = indexed_functions()["wire_timer"].get_user_function()
    container.application.cache_clear()
    try:
        mark = admin.mark()
        wire_timer(TimerRequest(past_due=False))
        first = admin.requests_since(mark)
        assert env_from_secrets(estate.workload("Deployment", "api")) == [secret]  # wired within one schedule
        assert "sc-autopilot" not in managers(estate.workload("Deployment", "web"))  # Flux's: suggested, untouched
        # no ARM write: reads only (GETs, and POSTs that read: listConfigurations, listClusterUserCredential)
        arm = [f"{r['method']} {r['path'].rsplit('/', 2)[-2:]}" for r in first if r["service"] == "arm"]
        print("\nfirst run, ARM:", arm)
        assert all(r["method"] == "GET" or r["path"].rsplit("/", 1)[-1].startswith("list")
                   for r in first if r["service"] == "arm")  # fmt: skip
        mark = admin.mark()
        wire_timer(TimerRequest(past_due=False))  # steady state: nothing to wire
        steady = admin.requests_since(mark)
    finally:
        container.application.cache_clear()
    calls = {service: sorted(f"{r['method']} {r['path']}" for r in steady if r["service"] == service)
             for service in ("arm", "kube")}  # fmt: skip
    assert len(calls["arm"]) == 1 and "/resources" in calls["arm"][0]  # the subscription's tag listing, nothing else
    assert all(line.startswith("GET ") for line in calls["kube"])
    # a metadata-only list per named kind (Deployment, StatefulSet, CronJob): web (Flux's) was suggested in this
    # version already, the others carry our wiring record
    assert len(calls["kube"]) == 3, calls["kube"]
    print(
        f"\nwire_timer, first run: {sum(r['service'] == 'arm' for r in first)} ARM call(s), "
        f"{sum(r['service'] == 'kube' for r in first)} Kubernetes call(s); steady state: {calls}"
    )
