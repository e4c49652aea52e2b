"""The custom role in infra/roles.bicep is enough: the whole flow (events, workload identity, secret auth,
reverse wiring, sweep with orphan clean-up) runs on the local cloud with exactly those rights and no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.config import Settings
from shared.service.reconciler import Application
from shared.service.sweep import Sweeper
from tests.conftest import CLUSTER, DATABASE, OPENAI, SUB, Admin, demo_spec
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate
from tests.unit.test_infra import role_permissions


def test_everything_works_with_only_the_custom_role(make_cloud, monkeypatch):
    actions, data_actions = role_permissions()
    spec = demo_spec()
    spec["principals"][0]["grants"] = [
        {"scope": f"/subscriptions/{SUB}", "actions": actions, "data_actions": data_actions}
    ]
    stale = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sc-left-secret", "namespace": "shop"}}
    spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]["kubernetes"]["objects"] = [stale]
    cloud = make_cloud(spec)
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    estate, app = Estate(Admin(cloud)), Application(Settings.from_env())
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.handle_events(estate.new_events())
    assert report.ok and not [f for f in report.findings if f.code.endswith("FORBIDDEN") or "PERMISSION" in f.code]
    assert len(estate.linkers()) == 2
    now = datetime.now(UTC)
    Sweeper(app).run(now=now)
    Sweeper(app).run(now=now + timedelta(hours=25))
    assert estate.secret("sc-left-secret") is None
    estate.untag(OPENAI, "sc-group")
    assert app.handle_events(estate.new_events()).ok and len(estate.linkers()) == 1
    forbidden = [r for r in Admin(cloud).requests_since(0) if r["status"] == 403]
    assert forbidden == []
