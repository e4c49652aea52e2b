"""Cloud metadata, tenants, subscriptions and `$expand` on listings, as ARM serves them to the Azure CLI."""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import DATABASE, RG, SUB, Admin

API = {"api-version": "2022-12-01"}


@pytest.fixture
def arm(cloud, admin):
    """GET on the local ARM as a scenario principal."""

    def get(path: str, principal: str | None = "platform-admin", **params: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {admin.token(principal)}"} if principal else {}
        return requests.get(
            f"{cloud.arm_endpoint}{path}", params=params or API, headers=headers, verify=str(cloud.ca_bundle)
        )

    return get


def test_metadata_endpoints_are_served_without_a_token(cloud, arm):
    """FACTS.md section 10, "The Azure CLI, before login, GETs `<arm>/metadata/endpoints?api-version=2022-09-01`
    WITHOUT a token (ARM serves it anonymously)"."""
    response = arm("/metadata/endpoints", principal=None, **{"api-version": "2022-09-01"})
    assert response.status_code == 200
    document = response.json()
    assert document["resourceManager"] == cloud.arm_endpoint + "/"
    assert document["authentication"]["audiences"][0] == "https://management.core.windows.net/"
    assert document["suffixes"]["keyVaultDns"] == "vault.azure.net"
    assert document["suffixes"]["sqlServerHostname"] == "database.windows.net"
    assert arm("/subscriptions", principal=None).status_code == 401  # everything else still needs a token


def test_tenants_and_subscriptions_as_az_login_lists_them(cloud, arm):
    """FACTS.md section 10, "`az login` then lists `GET /tenants` and `GET /subscriptions` (and
    `GET /subscriptions/{id}`)"; shapes of `Microsoft.Resources/stable/2022-12-01/subscriptions.json`."""
    tenants = arm("/tenants").json()["value"]
    assert [(t["tenantId"], t["tenantCategory"]) for t in tenants] == [(cloud.tenant_id, "Home")]
    listed = arm("/subscriptions").json()["value"]
    assert [(s["subscriptionId"], s["displayName"], s["state"]) for s in listed] == [
        (SUB, "contoso-platform", "Enabled")
    ]
    assert listed[0]["tenantId"] == cloud.tenant_id and listed[0]["id"] == f"/subscriptions/{SUB}"
    assert arm(f"/subscriptions/{SUB}").json() == listed[0]
    missing = arm("/subscriptions/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "SubscriptionNotFound")


def test_subscriptions_list_only_where_the_caller_holds_a_role(make_cloud):
    spec = {
        "principals": [
            {"name": "app", "managed_identity": True, "grants": [{"scope": f"/subscriptions/{SUB}", "actions": ["*"]}]},
            {"name": "stranger", "grants": [{"scope": "/subscriptions/other", "actions": ["*"]}]},
        ],
        "subscriptions": [{"id": SUB}, {"id": "other"}],
    }
    cloud = make_cloud(spec)
    admin = Admin(cloud)
    for principal, expected in (("app", [SUB]), ("stranger", ["other"])):
        response = requests.get(
            f"{cloud.arm_endpoint}/subscriptions",
            params=API,
            headers={"Authorization": f"Bearer {admin.token(principal)}"},
            verify=str(cloud.ca_bundle),
        )
        assert [s["subscriptionId"] for s in response.json()["value"]] == expected


def test_resource_listing_expands_times_and_provisioning_state(arm, admin):
    """FACTS.md section 10, "`az resource list` sends `$expand=createdTime,changedTime,provisioningState`"."""
    plain = arm(f"{RG}/resources", **{"api-version": "2022-09-01"}).json()["value"]
    assert all("createdTime" not in r and "provisioningState" not in r for r in plain)
    before = {r["id"]: r for r in _expanded(arm)}
    database = before[DATABASE]
    assert database["provisioningState"] == "Succeeded"
    assert database["createdTime"] == database["changedTime"] and database["createdTime"].endswith("Z")
    response = requests.patch(
        f"{admin.arm_endpoint}{DATABASE}/providers/Microsoft.Resources/tags/default",
        params={"api-version": "2022-09-01"},
        json={"operation": "Merge", "properties": {"tags": {"team": "shop"}}},
        headers={"Authorization": f"Bearer {admin.token('platform-admin')}"},
        verify=admin.session.verify,
    )
    assert response.status_code == 200
    after = {r["id"]: r for r in _expanded(arm)}[DATABASE]
    assert after["createdTime"] == database["createdTime"] and after["changedTime"] > database["changedTime"]


def _expanded(arm) -> list[dict]:
    params = {"api-version": "2022-09-01", "$expand": "createdTime,changedTime,provisioningState"}
    return arm(f"{RG}/resources", **params).json()["value"]


def test_identity_endpoint_selects_a_user_assigned_identity_as_msal_asks(cloud):
    """FACTS.md section 9, "`ManagedIdentityCredential` … uses `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`": msal (what
    `az login --identity` uses) sends `client_id`, `object_id` or `mi_res_id` with api-version 2019-08-01."""
    admin = cloud.cloud.tokens.by_name("platform-admin").principal
    for selector in ({"client_id": admin.client_id}, {"object_id": admin.object_id}):
        answer = requests.get(
            cloud.identity_endpoint,
            params={"api-version": "2019-08-01", "resource": "https://management.core.windows.net/", **selector},
            headers={"X-IDENTITY-HEADER": cloud.identity_header, "Metadata": "true"},
            timeout=30,
        ).json()
        assert answer["client_id"] == admin.client_id and int(answer["expires_on"]) > 0


def test_provider_registration_passes_through_registering(make_cloud):
    """FACTS.md section 6, "Check both providers' registration state before the PUT": a register answers
    `Registering`, and the state turns `Registered` later (after `provider_registration_seconds`)."""
    spec = {
        "principals": [{"name": "app", "managed_identity": True, "grants": [{"scope": "/", "actions": ["*"]}]}],
        "subscriptions": [{"id": SUB, "providers": {"Microsoft.KubernetesConfiguration": "NotRegistered"}}],
        "provider_registration_seconds": 0.3,
    }
    cloud = make_cloud(spec)
    provider = f"{cloud.arm_endpoint}/subscriptions/{SUB}/providers/Microsoft.KubernetesConfiguration"
    session = requests.Session()
    session.verify = str(cloud.ca_bundle)
    session.headers["Authorization"] = f"Bearer {Admin(cloud).token('app')}"
    registered = session.post(f"{provider}/register", params={"api-version": "2022-09-01"})
    assert registered.json()["registrationState"] == "Registering"
    assert session.get(provider, params={"api-version": "2022-09-01"}).json()["registrationState"] == "Registering"
    deadline = time.monotonic() + 5
    while session.get(provider, params={"api-version": "2022-09-01"}).json()["registrationState"] != "Registered":
        assert time.monotonic() < deadline, "the provider never finished registering"
        time.sleep(0.05)
