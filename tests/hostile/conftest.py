"""Hostile-tenant suite: Mallory owns one resource group (rg-attacker: a cluster, a SQL database, an OpenAI
account) and a namespace on the shop's shared cluster. She tags only what she owns, through the ARM tags API with
her own token, and tries to steer sc-autopilot into what others own: the central Key Vault's payments password,
the payments namespace, privileged identities, the shop's workloads and database."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from azure.keyvault.secrets import SecretClient
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator.runtime import LocalCloud
from shared.config import Settings
from shared.container import Application
from shared.core.codes import Code, Finding
from tests.conftest import CLUSTER, RG, SUB, Admin, UserCredential, demo_spec
from tests.e2e.conftest import Estate, estate  # noqa: F401 - the platform team's hands, used as they are

FOREIGN_SUB = "f0e1e200-0000-4000-8000-0000000f0e1e"  # a subscription outside SC_SUBSCRIPTIONS
ROOT = f"/subscriptions/{SUB}/resourceGroups"
ATTACKER_RG = f"{ROOT}/rg-attacker"
EVIL_CLUSTER = f"{ATTACKER_RG}/providers/Microsoft.ContainerService/managedClusters/aks-evil"
LOOT_DB = f"{ATTACKER_RG}/providers/Microsoft.Sql/servers/sql-evil/databases/loot"
EVIL_OPENAI = f"{ATTACKER_RG}/providers/Microsoft.CognitiveServices/accounts/oai-evil"
PAYMENTS_DB = f"{ROOT}/rg-payments/providers/Microsoft.Sql/servers/sql-payments/databases/payments"
# the new kinds of secret source (issue 25): keys Service Connector fetches, a user secret on a flexible server, and
# a Key Vault connected for the CSI driver through the cluster add-on's identity
PAYMENTS_STORAGE = f"{ROOT}/rg-payments/providers/Microsoft.Storage/storageAccounts/stpayments"
EVIL_POSTGRES = f"{ATTACKER_RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-evil"
CENTRAL_VAULT_ID = f"{ROOT}/rg-platform/providers/Microsoft.KeyVault/vaults/kv-central"
DEPLOYER = f"{ROOT}/rg-platform/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deployer"
FOREIGN_IDENTITY = (
    f"/subscriptions/{FOREIGN_SUB}/resourceGroups/rg-x/providers/Microsoft.ManagedIdentity/userAssignedIdentities/idx"
)
SHOP_IDENTITY = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-shop-workloads"
CENTRAL_VAULT = "https://kv-central.vault.azure.net"
PAYMENTS_PASSWORD = "Payments-0nly-Pr0d-P@ss"  # the value that must never leave its consent
ATTACKER = "mallory"
ALLOWED_TARGETS = "sc-autopilot.io/allowed-targets"


def hostile_tenant_spec() -> dict:
    spec = demo_spec()
    spec["principals"].append(
        {"name": ATTACKER, "grants": [{"scope": ATTACKER_RG, "actions": ["*"], "data_actions": ["*"]}]}
    )
    groups = spec["subscriptions"][0]["resource_groups"]
    shop = groups[0]["clusters"][0]["kubernetes"]
    shop["namespaces"] = [n for n in shop["namespaces"] if n != "payments"] + [
        {"name": "payments", "annotations": {ALLOWED_TARGETS: f"{ROOT}/rg-payments"}},
        {"name": "mallory", "annotations": {ALLOWED_TARGETS: ATTACKER_RG}},  # her own namespace on the shop cluster
    ]
    shop["workloads"] += [
        {"kind": "Deployment", "name": "payments-api", "namespace": "payments"},
        # the shop's own configuration, set by the workload's owner: no connection may shadow it
        {"kind": "Deployment", "name": "legacy", "namespace": "shop",
         "containers": [{"name": "legacy", "env": [{"name": "AZURE_OPENAI_BASE", "value": "https://own.example"}]}]},
    ]  # fmt: skip
    groups += [
        {
            "name": "rg-payments",
            "sql_servers": [{"name": "sql-payments", "databases": [{"name": "payments"}]}],
            # the payments team's own storage account, connected with keys Service Connector fetches
            "storage_accounts": [
                {
                    "name": "stpayments",
                    "tags": {"sc-group": "payments", "sc-namespace": "payments", "sc-auth": "secret"},
                }
            ],
        },
        {
            "name": "rg-platform",
            "identities": [{"name": "id-deployer"}],  # privileged; consents to nothing
            "key_vaults": [
                {
                    "name": "kv-central",
                    # the platform's vault, offered to its own clusters for the Secrets Store CSI driver
                    "tags": {"sc-group": "platform", "sc-namespace": "platform", "sc-auth": "csi"},
                    "secrets": {
                        "payments-db-password": {"value": PAYMENTS_PASSWORD, "tags": {"sc-targets": PAYMENTS_DB}}
                    },
                }
            ],
        },
        {
            "name": "rg-attacker",
            "clusters": [
                {
                    "name": "aks-evil",
                    "oidc_issuer": True,
                    "workload_identity": True,
                    "kubernetes": {
                        "namespaces": [{"name": "loot", "annotations": {ALLOWED_TARGETS: f"/subscriptions/{SUB}"}}],
                        "workloads": [{"kind": "Deployment", "name": "sink", "namespace": "loot"}],
                    },
                }
            ],
            "sql_servers": [{"name": "sql-evil", "databases": [{"name": "loot"}]}],
            "openai_accounts": [{"name": "oai-evil", "kind": "OpenAI"}],
            "postgres_servers": [{"name": "pg-evil", "databases": ["loot"]}],
        },
    ]
    spec["subscriptions"].append(
        {"id": FOREIGN_SUB, "name": "elsewhere", "resource_groups": [{"name": "rg-x", "identities": [{"name": "idx"}]}]}
    )
    return spec


@pytest.fixture
def cloud(make_cloud: Callable[..., LocalCloud], monkeypatch: pytest.MonkeyPatch) -> LocalCloud:
    started = make_cloud(hostile_tenant_spec())
    monkeypatch.setenv("SC_SUBSCRIPTIONS", SUB)  # the foreign subscription is not managed
    return started


@pytest.fixture
def admin(cloud: LocalCloud) -> Admin:
    return Admin(cloud)


@pytest.fixture
def app(cloud: LocalCloud) -> Application:
    return Application(Settings.from_env())


class Attacker:
    """Mallory's hands: the ARM tags API with her own token (rights on rg-attacker only)."""

    def __init__(self, admin: Admin):
        self.arm = ResourceManagementClient(
            UserCredential(admin, ATTACKER), SUB, base_url=os.environ["SC_ARM_ENDPOINT"],
            credential_scopes=["https://management.azure.com/.default"], polling_interval=0,
        )  # fmt: skip

    def tag(self, resource_id: str, tags: dict[str, str]) -> None:
        body = {"operation": "Merge", "properties": {"tags": tags}}
        self.arm.tags.begin_update_at_scope(resource_id, body).result()


@pytest.fixture
def attacker(admin: Admin) -> Attacker:
    return Attacker(admin)


def vault(admin: Admin, principal: str = "platform-admin") -> SecretClient:
    return SecretClient(CENTRAL_VAULT, UserCredential(admin, principal))


def consent_findings(findings: list[Finding], resource_id: str) -> list[Finding]:
    """CONSENT_MISSING findings naming `resource_id`, each with the command that would grant it."""
    return [
        f for f in findings if f.code is Code.CONSENT_MISSING and f.resource_id.lower() == resource_id.lower() and f.fix
    ]


def leaked_secrets(admin: Admin) -> list[str]:
    """Every Kubernetes secret, on any cluster, holding the payments password."""
    leaks = []
    for cluster in (CLUSTER, EVIL_CLUSTER):
        for item in admin.cluster_objects(cluster).get("secrets", []):
            values = [base64.b64decode(v).decode(errors="replace") for v in (item.get("data") or {}).values()]
            if any(PAYMENTS_PASSWORD in v for v in values):
                leaks.append(f"{cluster.rsplit('/', 1)[-1]}:{item['metadata']['namespace']}/{item['metadata']['name']}")
    return leaks


def linkers_to(admin: Admin, *targets: str) -> list[str]:
    wanted = {t.lower() for t in targets}
    return [
        r["id"]
        for r in admin.state()["resources"]
        if r["type"].lower() == "microsoft.servicelinker/linkers"
        and ((r.get("properties") or {}).get("targetService") or {}).get("id", "").lower() in wanted
    ]


def federated_credentials(admin: Admin, identity: str) -> list[str]:
    return [r["id"] for r in admin.state()["resources"] if r["id"].lower().startswith(identity.lower() + "/")]
