"""The app's rights are bounded: role assignments only of the roles Service Connector assigns, to service
principals only (an ABAC delegation condition); secret values only from vaults named at deployment; and the
status reads the long-running operations poll."""

from __future__ import annotations

import re

import pytest

from shared.core import catalogue
from tests.infra.bicep import Template, condition_sets
from tests.infra.test_infra_template import role_permissions

WRITE = "Microsoft.Authorization/roleAssignments/write"
DELETE = "Microsoft.Authorization/roleAssignments/delete"
# The roles Service Connector assigns to a connection's workload identity on the catalogue's targets (MicrosoftDocs
# azure-docs articles/service-connector/concept-microsoft-entra-roles.md, docs/TARGETS.md): exactly these, by GUID.
SERVICE_CONNECTOR_ROLES = {r.guid for r in catalogue.assigned_roles()}
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
POLLS = {
    "Microsoft.ServiceLinker/locations/operationStatuses/read",
    "Microsoft.ContainerService/locations/operations/read",
    "Microsoft.ContainerService/locations/operationresults/read",
    "Microsoft.KubernetesConfiguration/extensions/operations/read",
}


def roles() -> Template:
    return Template("roles.bicep", {"principalId": "00000000-0000-4000-8000-0000000000aa"})


def definitions() -> dict[str, dict]:
    """Each custom role (by symbol) -> its evaluated properties."""
    template = roles()
    return {
        symbol: template.value(template.instances("resources", symbol)[0][0]["properties"])
        for symbol, entry in template.doc["resources"].items()
        if entry["type"] == "Microsoft.Authorization/roleDefinitions"
    }


def assignments() -> dict[str, dict]:
    """The role definition symbol each assignment assigns -> the assignment's evaluated properties."""
    template = roles()
    found = {}
    for symbol, entry in template.doc["resources"].items():
        if entry["type"] == "Microsoft.Authorization/roleAssignments":
            properties = template.value(template.instances("resources", symbol)[0][0]["properties"])
            found[str(properties["roleDefinitionId"]).strip("<>").removesuffix(".id")] = properties
    return found


def assignment() -> dict:
    """The assignment of the role that may write role assignments."""
    [writer] = [s for s, d in definitions().items() if WRITE in d["permissions"][0]["actions"]]
    return assignments()[writer]


def permitted(condition: str, action: str, role: str, principal_type: str) -> bool:
    """Evaluates the condition for one role-assignment request (the attributes of both write and delete)."""
    constraints = condition_sets(condition).get(action)
    if constraints is None:
        return True
    return role in constraints["RoleDefinitionId"] and principal_type in constraints["PrincipalType"]


def test_role_assignment_write_and_delete_are_constrained_to_service_connectors_roles_for_service_principals():
    properties = assignment()
    assert properties["conditionVersion"] == "2.0"
    condition = properties["condition"]
    constraints = condition_sets(condition)
    assert set(constraints) == {WRITE, DELETE}
    for action in (WRITE, DELETE):
        assert constraints[action] == {
            "RoleDefinitionId": SERVICE_CONNECTOR_ROLES,
            "PrincipalType": {"ServicePrincipal"},
        }
    # a write is judged on the request, a delete on the existing assignment (delegate-role-assignments-examples.md)
    assert re.search(r"roleAssignments/write'\}\)\)\s*OR\s*\(@Request\[", condition)
    assert re.search(r"roleAssignments/delete'\}\)\)\s*OR\s*\(@Resource\[", condition)


@pytest.mark.parametrize(
    ("action", "role", "principal_type", "allowed"),
    [
        (WRITE, "a001fd3d-188f-4b5d-821b-7da978bf7442", "ServicePrincipal", True),
        (DELETE, "a97b65f3-24c7-4388-baec-2e87135dc908", "ServicePrincipal", True),
        (WRITE, OWNER, "ServicePrincipal", False),
        (WRITE, USER_ACCESS_ADMINISTRATOR, "ServicePrincipal", False),
        (WRITE, "a001fd3d-188f-4b5d-821b-7da978bf7442", "User", False),
        (DELETE, OWNER, "ServicePrincipal", False),
        (DELETE, "a97b65f3-24c7-4388-baec-2e87135dc908", "Group", False),
    ],
)
def test_the_condition_refuses_owner_equivalent_grants(action, role, principal_type, allowed):
    assert permitted(assignment()["condition"], action, role, principal_type) is allowed


def test_every_role_that_writes_role_assignments_is_assigned_with_the_condition_and_holds_nothing_else():
    actions, _ = role_permissions()
    assert {WRITE, DELETE} <= set(actions)
    bound = assignments()
    assert set(bound) == set(definitions())
    for symbol, definition in definitions().items():
        [permissions] = definition["permissions"]
        if {WRITE, DELETE} & set(permissions["actions"]):
            # the documented delegation pattern: a role of role-assignment actions only, its assignment conditioned
            assert set(permissions["actions"]) <= {WRITE, DELETE, "Microsoft.Authorization/roleAssignments/read"}
            assert permissions["dataActions"] == [] and bound[symbol]["condition"], symbol
        else:
            assert "condition" not in bound[symbol], symbol


def test_each_custom_role_has_its_own_display_name():
    names = [d["roleName"] for d in definitions().values()]
    assert len(set(names)) == len(names) == 2


def test_no_subscription_wide_secret_read_but_secrets_user_on_each_named_vault():
    actions, data_actions = role_permissions()
    assert not [a for a in actions + data_actions if a.lower().startswith("microsoft.keyvault/vaults/secrets")]
    vaults = [
        f"/subscriptions/{s}/resourceGroups/rg-{s[:2]}/providers/Microsoft.KeyVault/vaults/kv-{s[:2]}" for s in "ab"
    ]
    main = Template("main.bicep", {"keyVaults": " , ".join(vaults)})
    access = main.module("vaultAccess")
    assert [(a.deployment.subscription_id, a.deployment.resource_group, a.params["vaultName"]) for a in access] == [
        ("a", "rg-a", "kv-a"),
        ("b", "rg-b", "kv-b"),
    ]
    for module in access:
        [(body, _)] = module.instances("resources", "secretsUser")
        assert module.value(body["scope"]).name == "vault"  # on the vault itself, not its group or subscription
        role = module.value(body["properties"]["roleDefinitionId"])
        assert role.endswith("/4633458b-17de-408a-b874-0445c86b69e6")  # Key Vault Secrets User
    assert Template("main.bicep").module("vaultAccess") == []


def test_the_role_lets_the_long_running_operations_be_polled():
    actions, _ = role_permissions()
    assert set(actions) >= POLLS


def test_the_app_holds_every_right_service_connector_uses_with_its_token_on_each_target():
    """Service Connector lists a target's keys (and writes its firewall rules) with the caller's rights: each
    catalogue entry's actions are in the operator role, exactly as the catalogue spells them."""
    actions, _ = role_permissions()
    assert set(catalogue.app_actions()) <= set(actions)
    for entry in catalogue.ENTRIES:
        assert f"{entry.tagged_type}/read" in actions, f"{entry.kind.value}: the app cannot read its tagged resource"


def test_the_condition_admits_a_storage_role_and_refuses_a_role_no_target_uses():
    condition = assignment()["condition"]
    blob = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"  # Storage Blob Data Contributor
    contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
    assert permitted(condition, WRITE, blob, "ServicePrincipal")
    assert not permitted(condition, WRITE, contributor, "ServicePrincipal")
