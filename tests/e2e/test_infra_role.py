"""The custom role in infra/roles.bicep plus Key Vault Secrets User on the one vault the deployment names
(infra/modules/vault-access.bicep) is enough: the whole flow (events, workload identity, secret auth, reverse
wiring, sweep with orphan clean-up) runs on the local cloud with exactly those rights and no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.config import Settings
from shared.container import Application
from tests.conftest import CLUSTER, DATABASE, OPENAI, RG, SUB, Admin, demo_spec
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate
from tests.infra.bicep import Template
from tests.infra.test_infra_template import role_permissions

# Data actions of the built-in roles the infrastructure assigns per vault (MicrosoftDocs
# role-based-access-control/built-in-roles, "Key Vault Secrets User").
BUILT_IN_DATA_ACTIONS = {
    "4633458b-17de-408a-b874-0445c86b69e6": [
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ],
}
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-shop"


def vault_grant(vault_id: str) -> dict:
    """What infra/main.bicep grants on a vault listed in keyVaults, read from the template."""
    [access] = Template("main.bicep", {"keyVaults": vault_id}).module("vaultAccess")
    [(body, _)] = access.instances("resources", "secretsUser")
    role = access.value(body["properties"]["roleDefinitionId"]).rsplit("/", 1)[-1]
    return {"scope": vault_id, "actions": [], "data_actions": BUILT_IN_DATA_ACTIONS[role]}


def test_everything_works_with_only_the_custom_role(make_cloud, monkeypatch):
    actions, data_actions = role_permissions()
    spec = demo_spec()
    spec["principals"][0]["grants"] = [
        {"scope": f"/subscriptions/{SUB}", "actions": actions, "data_actions": data_actions},
        vault_grant(VAULT),
    ]
    stale = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sc-left-secret", "namespace": "shop"}}
    spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]["kubernetes"]["objects"] = [stale]
    cloud = make_cloud(spec)
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    estate, app = Estate(Admin(cloud)), Application(Settings.from_env())
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    report = app.events.handle(estate.new_events())
    assert report.ok and not [f for f in report.findings if f.code.endswith("FORBIDDEN") or "PERMISSION" in f.code]
    assert len(estate.linkers()) == 2
    now = datetime.now(UTC)
    app.sweeper.run(now=now)
    app.sweeper.run(now=now + timedelta(hours=25))
    assert estate.secret("sc-left-secret") is None
    estate.untag(OPENAI, "sc-group")
    assert app.events.handle(estate.new_events()).ok and len(estate.linkers()) == 1
    forbidden = [r for r in Admin(cloud).requests_since(0) if r["status"] == 403]
    assert forbidden == []
