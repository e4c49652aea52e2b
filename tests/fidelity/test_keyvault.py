"""Key Vault secrets through the real azure-keyvault-secrets SDK: versions, attributes, tags, events.

Checks FACTS.md section 10, "Key Vault: GET secret returns `attributes.created/updated` and `tags`. A new version
raises `Microsoft.KeyVault.SecretNewVersionCreated` on the vault's system topic, `subject` = the secret name,
`data`: `Id`, `VaultName`, `ObjectType`, `ObjectName`, `Version`, `NBF`, `EXP`", and the Key Vault REST API's
Set Secret ("If the named secret already exists, Azure Key Vault creates a new version of that secret").
"""

from __future__ import annotations

import os

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

from tests.conftest import RG, Admin, UserCredential, demo_spec
from tests.fidelity.webhook_receiver import webhook_receiver

VAULT_URL = "https://kv-shop.vault.azure.net"
VAULT_ID = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-shop"


@pytest.fixture
def secrets(admin: Admin) -> SecretClient:
    """The vault as a person on the platform team (all data actions)."""
    return SecretClient(VAULT_URL, UserCredential(admin, "platform-admin"))


def test_set_secret_makes_a_new_version_and_get_returns_the_latest_or_the_one_asked_for(secrets):
    first = secrets.set_secret("api-token", "one")
    second = secrets.set_secret("api-token", "two")
    assert first.properties.version != second.properties.version
    assert secrets.get_secret("api-token").value == "two"
    assert secrets.get_secret("api-token", first.properties.version).value == "one"
    assert secrets.get_secret("api-token", second.properties.version).id == (
        f"{VAULT_URL}/secrets/api-token/{second.properties.version}"
    )
    versions = {p.version for p in secrets.list_properties_of_secret_versions("api-token")}
    assert versions == {first.properties.version, second.properties.version}
    with pytest.raises(ResourceNotFoundError):
        secrets.get_secret("api-token", "0" * 32)


def test_the_vault_tunnel_works_when_the_process_holds_more_than_1024_descriptors(secrets):
    """A process serving hundreds of clusters holds thousands of connections; the local cloud's Key Vault tunnel
    (HTTPS CONNECT through its proxy) must still relay with descriptors above select()'s limit of 1023."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        secrets.set_secret("many-descriptors", "value")
        assert secrets.get_secret("many-descriptors").value == "value"
    finally:
        for descriptor in held:
            os.close(descriptor)


def test_attributes_carry_created_updated_and_enabled(secrets):
    secret = secrets.get_secret("sql-orders-password")  # seeded by the scenario
    assert secret.properties.enabled is True
    assert secret.properties.created_on is not None and secret.properties.updated_on is not None
    assert secret.properties.recovery_level == "Recoverable+Purgeable"
    written = secrets.set_secret("fresh", "v")
    assert written.properties.created_on == written.properties.updated_on


def test_tags_are_set_with_update_secret_properties_and_returned_by_get(secrets):
    written = secrets.set_secret("api-token", "one")
    assert secrets.get_secret("api-token").properties.tags is None  # Key Vault leaves tags out when there are none
    updated = secrets.update_secret_properties("api-token", tags={"sc-consent": "shop"})
    assert updated.tags == {"sc-consent": "shop"} and updated.version == written.properties.version
    assert secrets.get_secret("api-token").properties.tags == {"sc-consent": "shop"}
    assert [p.tags for p in secrets.list_properties_of_secrets() if p.name == "api-token"] == [{"sc-consent": "shop"}]
    secrets.update_secret_properties("api-token", written.properties.version, enabled=False)
    with pytest.raises(HttpResponseError) as raised:
        secrets.get_secret("api-token")
    assert raised.value.status_code == 403 and "disabled" in raised.value.message


def test_scenario_secrets_may_carry_tags(make_cloud):
    spec = demo_spec()
    vault = spec["subscriptions"][0]["resource_groups"][0]["key_vaults"][0]
    vault["secrets"]["tagged"] = {"value": "s3cret", "tags": {"owner": "shop"}}
    vault["secrets"]["plain"] = "not-tagged"
    cloud = make_cloud(spec)
    client = SecretClient(VAULT_URL, UserCredential(Admin(cloud), "platform-admin"))
    secret = client.get_secret("tagged")
    assert secret.value == "s3cret" and secret.properties.tags == {"owner": "shop"}
    assert client.get_secret("plain").properties.tags is None


def test_a_new_version_raises_secret_new_version_created_in_both_schemas(secrets, admin):
    mark = len(admin.get("events")["events"])
    written = secrets.set_secret("api-token", "one")
    secrets.update_secret_properties("api-token", tags={"a": "b"})  # an update is no new version
    events = admin.get("events", since=mark)["events"]
    assert len(events) == 1
    event = events[0]
    assert event["eventType"] == "Microsoft.KeyVault.SecretNewVersionCreated"
    assert event["topic"] == VAULT_ID and event["subject"] == "api-token"
    assert event["dataVersion"] == "1" and event["metadataVersion"] == "1"
    assert event["data"] == {
        "Id": f"{VAULT_URL}/secrets/api-token/{written.properties.version}",
        "VaultName": "kv-shop",
        "ObjectType": "Secret",
        "ObjectName": "api-token",
        "Version": written.properties.version,
        "NBF": None,
        "EXP": None,
    }
    cloud_event = admin.get("events", schema="cloudevents", since=mark)["events"][0]
    assert cloud_event["type"] == "Microsoft.KeyVault.SecretNewVersionCreated"
    assert cloud_event["source"] == VAULT_ID and cloud_event["subject"] == "api-token"
    assert cloud_event["specversion"] == "1.0" and cloud_event["data"] == event["data"]


def test_the_vault_topic_is_delivered_only_to_its_own_subscribers(secrets, admin):
    with webhook_receiver() as vault_hook, webhook_receiver() as subscription_hook:
        admin.post("webhooks", {"url": vault_hook.url, "schema": "cloudevents", "topic": VAULT_ID})
        admin.post("webhooks", {"url": subscription_hook.url})  # the subscription's topic: ARM events only
        secrets.set_secret("api-token", "one")
        content_type, body = vault_hook.wait_for(1)[0]
        assert content_type == "application/cloudevents+json"
        assert body["type"] == "Microsoft.KeyVault.SecretNewVersionCreated"
        assert subscription_hook.quiet_for(0.3) == []


def test_writes_need_the_set_secret_data_action(cloud):
    """The app's identity holds getSecret only (demo scenario): it can read but not write."""
    app = SecretClient(VAULT_URL, ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"]))
    assert app.get_secret("sql-orders-password").value
    with pytest.raises(HttpResponseError) as raised:
        app.set_secret("sql-orders-password", "mine")
    assert raised.value.status_code == 403
    assert "Microsoft.KeyVault/vaults/secrets/setSecret/action" in raised.value.message
    with pytest.raises(HttpResponseError):
        app.update_secret_properties("sql-orders-password", tags={"x": "y"})
