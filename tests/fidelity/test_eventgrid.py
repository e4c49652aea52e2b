"""Event Grid's ARM events as the subscription system topic delivers them, raised through the real SDKs.

Checks FACTS.md section 10: "Event Grid data.claims carry the token's claims (aud, iss, iat, nbf, exp, appid, appidacr,
oid, http://schemas.microsoft.com/identity/claims/tenantid, uti, ver); data.httpRequest.url includes ?api-version=.
Every successful ARM delete emits ResourceDeleteSuccess, linker deletes included".
"""

from __future__ import annotations

import os

from azure.identity import ManagedIdentityCredential
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.servicelinker import ServiceLinkerManagementClient

from tests.conftest import CLUSTER, DATABASE, SUB, UserCredential
from tests.fidelity.test_arm_sdk import arm_kwargs, register_kubernetes_configuration, sql_secret_linker

CLAIMS = {"aud", "iss", "iat", "nbf", "exp", "appid", "appidacr", "oid", "uti", "ver",
          "http://schemas.microsoft.com/identity/claims/tenantid"}  # fmt: skip


def _tag_as_admin(admin) -> dict:
    resources = ResourceManagementClient(UserCredential(admin, "platform-admin"), SUB, **arm_kwargs())
    mark = len(admin.get("events")["events"])
    resources.tags.begin_update_at_scope(DATABASE, {"operation": "Merge", "properties": {"tags": {"a": "b"}}}).result()
    [event] = admin.get("events", since=mark)["events"]
    return event


def test_claims_are_the_callers_token_claims_as_strings(cloud, admin):
    event = _tag_as_admin(admin)
    claims = event["data"]["claims"]
    assert set(claims) >= CLAIMS
    assert all(isinstance(value, str) for value in claims.values())
    person = admin.post("token", {"principal": "platform-admin"})
    assert claims["oid"] == person["object_id"] and claims["appidacr"] == "0"
    assert claims["aud"] == "https://management.azure.com" and claims["ver"] == "1.0"
    assert claims["http://schemas.microsoft.com/identity/claims/tenantid"] == cloud.tenant_id
    assert claims["iss"] == f"https://sts.windows.net/{cloud.tenant_id}/"
    assert int(claims["nbf"]) <= int(claims["iat"]) < int(claims["exp"])


def test_http_request_url_carries_the_api_version(cloud, admin):
    request = _tag_as_admin(admin)["data"]["httpRequest"]
    assert request["method"] == "PATCH"
    assert request["url"].startswith(f"https://management.azure.com{DATABASE}/providers/Microsoft.Resources/tags")
    assert "?api-version=" in request["url"]


def test_a_linker_delete_raises_resource_delete_success(cloud, admin):
    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    register_kubernetes_configuration(ResourceManagementClient(credential, SUB, **arm_kwargs()))
    linkers = ServiceLinkerManagementClient(credential, api_version="2024-04-01", **arm_kwargs()).linker
    linkers.begin_create_or_update(CLUSTER, "orders_sql", sql_secret_linker()).result()
    mark = len(admin.get("events")["events"])
    linkers.begin_delete(CLUSTER, "orders_sql").result()
    linker_id = f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers/orders_sql"
    [event] = [e for e in admin.get("events", since=mark)["events"] if e["subject"] == linker_id]
    assert event["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert event["data"]["operationName"] == "Microsoft.ServiceLinker/linkers/delete"
    assert event["data"]["resourceProvider"] == "Microsoft.ServiceLinker"
    assert event["data"]["httpRequest"]["method"] == "DELETE"
    assert event["data"]["httpRequest"]["url"].endswith("?api-version=2024-04-01")
    assert event["data"]["claims"]["appid"] == cloud.app_client_id and event["data"]["claims"]["appidacr"] == "2"
