"""What a client asks ARM before it touches a resource: cloud metadata, tenants, subscriptions.

The Azure CLI registers a custom cloud from `GET {arm}/metadata/endpoints?api-version=2022-09-01` (served without a
token) and, on `az login`, lists `GET /tenants` and `GET /subscriptions` (FACTS.md section 10). Shapes follow
`Microsoft.Resources/stable/2022-12-01/subscriptions.json` and ARM's public metadata document.
"""

from __future__ import annotations

from emulator.arm.store import ArmStore, Subscription
from emulator.identity import Identity

METADATA_PATH = "/metadata/endpoints"
TENANT_DOMAIN = "contoso.onmicrosoft.com"


def metadata_endpoints(arm_endpoint: str) -> dict:
    """The 2022-09-01 document for one cloud: ARM here, Entra and the service suffixes of the public cloud."""
    arm = arm_endpoint.rstrip("/") + "/"
    return {
        "name": "LocalCloud",
        "portal": "https://portal.azure.com",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": arm,
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/"
        "quickstart-templates/aliases.json",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
    }


def tenants(tenant_id: str) -> dict:
    tenant = {
        "id": f"/tenants/{tenant_id}",
        "tenantId": tenant_id,
        "countryCode": "US",
        "displayName": "Contoso",
        "domains": [TENANT_DOMAIN],
        "tenantCategory": "Home",
        "defaultDomain": TENANT_DOMAIN,
        "tenantType": "AAD",
    }
    return {"value": [tenant], "count": {"type": "Total", "value": 1}}


def subscriptions(store: ArmStore, identity: Identity, tenant_id: str) -> dict:
    """Only the subscriptions where the caller holds a role assignment, as ARM lists them."""
    visible = [subscription(s, tenant_id) for s in store.subscriptions.values() if can_see(identity, s)]
    return {"value": visible, "count": {"type": "Total", "value": len(visible)}}


def can_see(identity: Identity, sub: Subscription) -> bool:
    scope = f"/subscriptions/{sub.id}".lower()
    return any(g.covers(scope) or g.scope.lower().startswith(scope + "/") for g in identity.grants)


def subscription(sub: Subscription, tenant_id: str) -> dict:
    return {
        "id": f"/subscriptions/{sub.id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "tags": {},
        "subscriptionId": sub.id,
        "tenantId": tenant_id,
        "displayName": sub.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }
