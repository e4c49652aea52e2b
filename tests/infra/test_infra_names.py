"""Every resource name the templates generate is valid for its type, for any env name azd accepts.

The names are evaluated from the Bicep as written (tests/infra/bicep.py), for a dozen env names, across main.bicep
and every module instance it deploys. Rules: MicrosoftDocs azure-docs
articles/azure-resource-manager/management/resource-name-rules.md; azd env names: azure-dev
pkg/environment/environment.go `^[a-zA-Z0-9-\\(\\)_\\.]{1,64}$`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.infra.bicep import Deployment, Template, parse

AZD_ENV_NAME = re.compile(r"^[a-zA-Z0-9-\(\)_\.]{1,64}$")
ENV_NAMES = [
    "sc-autopilot-prod",
    "SC_Autopilot.Test(1)",
    "a" * 64,
    "Ab-" * 21 + "x",
    "x",
    "prod",
    "(((",
    "---",
    "...",
    "9lives",
    "Team_Platform.EU-West_2026(blue)",
    "UPPER.CASE_NAME",
]
SUB_A = "11111111-1111-4111-8111-111111111111"
SUB_B = "22222222-2222-4222-8222-222222222222"
EXISTING_TOPIC = f"/subscriptions/{SUB_B}/resourceGroups/Default-EventGrid/providers/Microsoft.EventGrid/systemTopics/x"
VAULT = f"/subscriptions/{SUB_B}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv-central"
GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@dataclass(frozen=True)
class Rule:
    pattern: str  # the whole name (after the parent's segment, for child resources)
    low: int
    high: int
    global_unique: bool = False  # the unique suffix must survive whole


def forbidding(chars: str) -> str:
    """Names that 'can't use' these characters or control characters and can't end with space or period."""
    return rf"^[^{re.escape(chars)}\x00-\x1f]*[^{re.escape(chars)}\x00-\x1f .]$"


RULES = {
    "Microsoft.ManagedIdentity/userAssignedIdentities": Rule(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", 3, 128),
    "Microsoft.Storage/storageAccounts": Rule(r"^[a-z0-9]+$", 3, 24, global_unique=True),
    "Microsoft.Storage/storageAccounts/blobServices": Rule(r"^default$", 7, 7),
    "Microsoft.Storage/storageAccounts/blobServices/containers": Rule(r"^[a-z0-9](?!.*--)[a-z0-9-]*$", 3, 63),
    "Microsoft.Authorization/roleAssignments": Rule(GUID, 36, 36),
    "Microsoft.Authorization/roleDefinitions": Rule(GUID, 36, 36),
    "Microsoft.OperationalInsights/workspaces": Rule(r"^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$", 4, 63),
    "Microsoft.Insights/components": Rule(forbidding("%&\\?/"), 1, 260),
    "Microsoft.Insights/scheduledQueryRules": Rule(forbidding("*<>%{}&:\\?/#"), 1, 260),
    "Microsoft.Web/serverfarms": Rule(r"^[A-Za-z0-9-]+$", 1, 60),
    # 2-60 characters, and at most 32 here: the Functions host id is the name cut to 32 (resource-name-rules.md)
    "Microsoft.Web/sites": Rule(r"^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$", 2, 32, global_unique=True),
    "Microsoft.Resources/deployments": Rule(r"^[A-Za-z0-9_().-]+$", 1, 64),
    "Microsoft.Resources/resourceGroups": Rule(r"^[A-Za-z0-9_().-]*[A-Za-z0-9_()-]$", 1, 90),
    # system topics are not in the table: the rule of Event Grid topics (3-50, alphanumerics and hyphens)
    "Microsoft.EventGrid/systemTopics": Rule(r"^[A-Za-z0-9-]+$", 3, 50),
    "Microsoft.EventGrid/systemTopics/eventSubscriptions": Rule(r"^[A-Za-z0-9-]+$", 3, 64),
}


def every_name(env_name: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(unique suffix, [(symbol, type, name)]) over main.bicep and every module instance it deploys."""
    main = Template(
        "main.bicep",
        {
            "appName": env_name,
            "managedSubscriptions": f"{SUB_A},{SUB_B}",
            "deployEventSubscription": True,
            "existingSystemTopics": EXISTING_TOPIC,
            "keyVaults": VAULT,
        },
        Deployment(subscription_id=SUB_A, resource_group="rg-sc"),
    )
    found = main.names() + main.names("modules")
    for managed in main.module("managed"):
        found += managed.names() + managed.names("modules")
        for child in managed.module("role") + managed.module("events"):
            found += child.names()
    for access in main.module("vaultAccess"):
        found += access.names()
    return main.variable("suffix"), found


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_generated_name_satisfies_its_resource_types_rule(env_name):
    assert AZD_ENV_NAME.match(env_name)
    suffix, names = every_name(env_name)
    assert re.fullmatch(r"[a-z0-9]{13}", suffix)
    assert {kind for _, kind, _ in names} == set(RULES), "a resource type without a naming rule in this test"
    for symbol, kind, name in names:
        rule = RULES[kind]
        own = name.rsplit("/", 1)[-1]  # a child resource's own segment
        assert rule.low <= len(own) <= rule.high and re.match(rule.pattern, own), (symbol, kind, name)
        if rule.global_unique:
            assert suffix in own, f"{symbol}: {own!r} lost part of the unique suffix {suffix!r}"


def test_names_of_two_environments_never_collide_even_when_they_sanitise_alike():
    first, second = every_name("sc.prod")[1], every_name("sc_prod")[1]
    unique = {k for k, rule in RULES.items() if rule.global_unique}
    assert {n for _, k, n in first if k in unique}.isdisjoint({n for _, k, n in second if k in unique})


def test_app_name_accepts_exactly_the_lengths_azd_allows():
    decorators = {d["type"]: d.get("argument") for d in parse("main.bicep")["parameters"]["appName"]["decorators"]}
    assert (decorators["min_length"], decorators["max_length"]) == (1, 64)


def test_the_custom_role_display_name_differs_per_subscription():
    """A custom role's display name is unique in the tenant; its definition is created in each subscription."""
    main = Template("main.bicep", {"managedSubscriptions": f"{SUB_A},{SUB_B}"})
    names = set()
    for managed in main.module("managed"):
        [roles] = managed.module("role")
        for symbol in ("role", "delegationRole"):
            [(body, _)] = roles.instances("resources", symbol)
            names.add(roles.value(body["properties"]["roleName"]))
    assert len(names) == 4
