"""The infrastructure and the code agree: event filters, app settings, and no wildcard in the custom role.
Bicep cannot be compiled here; pycep-parser reads it offline."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pycep import BicepParser

from shared.config import DEPRECATED_SETTINGS, LOCAL_ONLY_SETTINGS
from shared.core.eventgrid import HANDLED_EVENT_TYPES, HANDLED_OPERATIONS
from tests.infra.bicep import Template

EVENT_PARAMETERS = {"topicName": "topic", "reuseTopic": False, "functionAppId": "/app", "identityId": "/id",
                    "storageId": "/st", "deadLetterContainer": "dead"}  # fmt: skip

ROOT = Path(__file__).resolve().parents[2]


@cache
def bicep(name: str) -> dict:
    return BicepParser().parse(file_path=ROOT / "infra" / name)


def role_permissions() -> tuple[list[str], list[str]]:
    """(actions, data actions) the app holds on a managed subscription: both custom roles of roles.bicep."""
    variables = bicep("roles.bicep")["variables"]
    return variables["actions"]["value"] + variables["delegationActions"]["value"], variables["dataActions"]["value"]


def test_event_filter_covers_exactly_the_operations_the_code_handles():
    variables = bicep("modules/events.bicep")["variables"]
    assert sorted(variables["handledOperations"]["value"]) == sorted(HANDLED_OPERATIONS)
    assert sorted(variables["handledEventTypes"]["value"]) == sorted(HANDLED_EVENT_TYPES)
    events = Template("modules/events.bicep", EVENT_PARAMETERS)
    chunks = [events.value(body["properties"]["filter"]["advancedFilters"][0]["values"], local)
              for body, local in events.instances("resources", "subscriptionToFunction")]  # fmt: skip
    # Event Grid admits at most 25 filter values per event subscription: every operation in exactly one of them
    assert [op for chunk in chunks for op in chunk] == list(HANDLED_OPERATIONS) and all(len(c) <= 25 for c in chunks)
    assert len(chunks) == len(set(n for _, _, n in events.names())) - 1  # one name each, and the topic
    subscription = bicep("modules/events.bicep")["resources"]["subscriptionToFunction"]["config"]["config"][
        "properties"
    ]
    [advanced] = subscription["filter"]["advancedFilters"]
    assert advanced["key"] == "data.operationName" and advanced["operatorType"] == "StringIn"
    assert subscription["retryPolicy"]["maxDeliveryAttempts"] >= 10 and "deadLetterWithResourceIdentity" in subscription
    assert subscription["destination"]["properties"]["resourceId"].endswith("/functions/on_resource_event")


def test_every_setting_the_code_reads_is_set_by_the_infrastructure():
    app = bicep("main.bicep")["resources"]["app"]["config"]
    names = {s["name"] for s in app["properties"]["siteConfig"]["appSettings"]}
    code = "\n".join(p.read_text() for p in (ROOT / "shared").rglob("*.py"))
    read = set(re.findall(r'"(SC_[A-Z_]+)"', code)) - DEPRECATED_SETTINGS.keys() - LOCAL_ONLY_SETTINGS
    assert read and read <= names, read - names
    assert set(DEPRECATED_SETTINGS.values()) <= names
    assert {"AZURE_CLIENT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING", "AzureWebJobsStorage__clientId"} <= names
    # identity-based storage in any cloud: the service URIs, not the public-cloud-only account name
    assert {f"AzureWebJobsStorage__{k}ServiceUri" for k in ("blob", "queue", "table")} <= names
    assert "AzureWebJobsStorage__accountName" not in names


def test_storage_uses_identities_not_keys_and_the_app_runs_python_311_on_flex_consumption():
    resources = bicep("main.bicep")["resources"]
    assert resources["storage"]["config"]["properties"]["allowSharedKeyAccess"] is False
    assert resources["plan"]["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    runtime = resources["app"]["config"]["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "3.11"}
    # the app starts only once its identity may use the storage and publish telemetry, and its package container exists
    assert {"storageRoles", "insightsRole", "containers"} <= set(resources["app"]["config"]["dependsOn"])


def test_the_custom_role_lists_actions_and_grants_nothing_broad():
    actions, data_actions = role_permissions()
    for action in actions + data_actions:
        assert "*" not in action, action
    assert len(set(actions)) == len(actions) and len(set(data_actions)) == len(data_actions)


def test_local_settings_example_names_every_setting_and_parses():
    import json

    from shared.config import Settings

    values = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    code = "\n".join(p.read_text() for p in (ROOT / "shared").rglob("*.py"))
    assert set(re.findall(r'"(SC_[A-Z_]+)"', code)) - DEPRECATED_SETTINGS.keys() <= set(values)
    assert not DEPRECATED_SETTINGS.keys() & set(values)
    assert Settings.from_env(values).subscriptions == ("c0ffee00-0000-4000-8000-00000000d370",)


def test_the_key_vault_suffix_bicep_passes_is_accepted_and_an_empty_one_is_refused():
    """environment().suffixes.keyvaultDns is '.vault.azure.net' (leading dot, FACTS.md section 10)."""
    import pytest

    from shared.config import ConfigError, Settings
    from shared.core.tags import split_secret_url

    app = bicep("main.bicep")["resources"]["app"]["config"]
    [setting] = [s for s in app["properties"]["siteConfig"]["appSettings"] if s["name"] == "SC_KEYVAULT_DNS_SUFFIXES"]
    assert "keyvaultDns" in str(setting["value"])
    env = {"SC_SUBSCRIPTIONS": "c0ffee00-0000-4000-8000-00000000d370"}
    settings = Settings.from_env({**env, "SC_KEYVAULT_DNS_SUFFIXES": ".vault.azure.net, .Vault.UsGovCloudApi.net"})
    assert settings.keyvault_dns_suffixes == ("vault.azure.net", "vault.usgovcloudapi.net")
    url = "https://kv-shop.vault.azure.net/secrets/db-password"
    assert split_secret_url(url, settings.keyvault_dns_suffixes)[:2] == (
        "https://kv-shop.vault.azure.net",
        "db-password",
    )
    for empty in ("", " , ", "."):
        with pytest.raises(ConfigError, match="SC_KEYVAULT_DNS_SUFFIXES"):
            Settings.from_env({**env, "SC_KEYVAULT_DNS_SUFFIXES": empty})


def test_checkov_finds_nothing_beyond_the_documented_skip_list():
    import subprocess

    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"  # its own venv (Makefile): its pins clash with ours
    assert checkov.exists(), "checkov is not installed: run `make test` (it installs .venv-checkov)"
    result = subprocess.run(
        [str(checkov), "-d", str(ROOT / "infra"), "--config-file", str(ROOT / "infra" / ".checkov.yaml")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Failed checks: 0" in result.stdout
    # a file checkov's own Bicep parser cannot read is skipped silently: every file must be scanned
    assert "Parsing errors" not in result.stdout, result.stdout[-3000:]  # checkov prints it only when some are


def test_each_named_vault_sends_the_secret_events_the_code_handles():
    """A rotation reaches on_resource_event from every vault in keyVaults (issue 21): its system topic, or the one
    named for it in existingVaultTopics, subscribed to exactly SECRET_EVENT_TYPES."""
    from shared.core.eventgrid import SECRET_EVENT_TYPES
    from tests.infra.bicep import Template

    variables = bicep("modules/vault-events.bicep")["variables"]
    assert sorted(variables["handledEventTypes"]["value"]) == sorted(SECRET_EVENT_TYPES)
    subscription = bicep("modules/vault-events.bicep")["resources"]["vaultToFunction"]["config"]["config"]["properties"]
    assert subscription["destination"]["properties"]["resourceId"].endswith("/functions/on_resource_event")
    rg = "/subscriptions/00000000-0000-4000-8000-00000000000a/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults"
    topic = rg.replace("Microsoft.KeyVault/vaults", "Microsoft.EventGrid/systemTopics/kv-b-topic")
    params = {"keyVaults": f"{rg}/kv-a,{rg}/kv-b", "deployEventSubscription": True,
              "existingVaultTopics": f"{rg}/kv-b={topic}"}  # fmt: skip
    modules = Template("main.bicep", params).module("vaultEvents")
    assert [m.value("reuseTopic") for m in modules] == [False, True]
    assert modules[1].value("topicName") == "kv-b-topic" and modules[0].value("topicName").startswith("egst-kv-a-")
    assert [len(m.instances("resources", "newTopic")) for m in modules] == [1, 0]
    assert [len(m.instances("resources", "vaultToFunction")) for m in modules] == [1, 1]
    held = Template("main.bicep", {**params, "deployEventSubscription": False}).module("vaultEvents")
    assert [len(m.instances("resources", "vaultToFunction")) for m in held] == [0, 0]
