"""Coexisting with GitOps on the local cloud: our own field manager, GitOps-managed workloads left to their
manifests (GITOPS_MANAGED and its snippet), snippets applied as the GitOps tools apply them, reverts noticed."""

from __future__ import annotations

from tests.conftest import CLUSTER, DATABASE, OPENAI
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS

WORKLOADS = (("Deployment", "api"), ("Deployment", "web"), ("StatefulSet", "worker"), ("CronJob", "report"))


def managers(obj: dict) -> dict[str, dict]:
    return {e["manager"]: e for e in (obj.get("metadata") or {}).get("managedFields") or []}


def test_every_write_of_ours_is_owned_by_sc_autopilot(estate, app):
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    assert app.handle_events(estate.new_events()).ok
    for kind, name in WORKLOADS:
        entry = managers(estate.workload(kind, name))["sc-autopilot"]
        assert (entry["operation"], entry["fieldsType"]) == ("Update", "FieldsV1")
        owned = entry["fieldsV1"]
        assert "f:sc-autopilot.io/wiring" in owned["f:metadata"]["f:annotations"]
        template = owned["f:spec"]["f:jobTemplate"]["f:spec"] if kind == "CronJob" else owned["f:spec"]
        containers = template["f:template"]["f:spec"]["f:containers"]
        assert all("f:envFrom" in fields for fields in containers.values()), (kind, name)
