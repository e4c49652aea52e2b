"""Azure Resource Graph and ARM's remaining-calls headers, through the real SDKs (azure-mgmt-resourcegraph)."""

from __future__ import annotations

import os

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from tests.conftest import IDENTITY, SUB, demo_spec

KWARGS = {"credential_scopes": ["https://management.azure.com/.default"], "retry_total": 0}


@pytest.fixture
def graph(cloud) -> ResourceGraphClient:
    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    return ResourceGraphClient(credential, base_url=os.environ["SC_ARM_ENDPOINT"], **KWARGS)


def ask(graph: ResourceGraphClient, query: str, **options):
    return graph.resources(QueryRequest(subscriptions=[SUB], query=query, options=QueryRequestOptions(**options)))


def test_a_query_answers_rows_as_resource_graph_shapes_them_and_pages(graph):
    answer = ask(graph, "resources | where type =~ 'Microsoft.ManagedIdentity/userAssignedIdentities' "
                        "| project id, type, resourceGroup, properties")  # fmt: skip
    rows = {row["id"].lower(): row for row in answer.data}
    row = rows[IDENTITY.lower()]
    assert row["type"] == "microsoft.managedidentity/userassignedidentities" and row["resourceGroup"] == "rg-shop"
    assert set(row) == {"id", "type", "resourceGroup", "properties"} and row["properties"]["clientId"]
    everything = ask(graph, "resources")
    first = ask(graph, "resources", top=1)
    assert first.count == 1 and first.total_records == everything.total_records > 1 and first.skip_token
    second = ask(graph, "resources", top=1, skip_token=first.skip_token)
    assert second.data[0]["id"] == everything.data[1]["id"]


def test_a_query_it_cannot_parse_is_a_bad_request(graph):
    with pytest.raises(HttpResponseError) as raised:
        ask(graph, "resources | summarize count() by type")
    assert raised.value.status_code == 400


def test_the_quota_is_fifteen_queries_per_five_seconds_per_user_with_its_headers(graph):
    seen = []

    def record(response):
        seen.append((response.http_response.status_code, dict(response.http_response.headers)))

    for _ in range(15):
        graph.resources(QueryRequest(subscriptions=[SUB], query="resources"), raw_response_hook=record)
    with pytest.raises(HttpResponseError) as raised:
        graph.resources(QueryRequest(subscriptions=[SUB], query="resources"), raw_response_hook=record)
    assert raised.value.status_code == 429
    remaining = [int(headers["x-ms-user-quota-remaining"]) for status, headers in seen if status == 200]
    assert remaining == list(range(14, -1, -1))
    assert seen[-1][1]["x-ms-user-quota-resets-after"].startswith("00:00:0") and "Retry-After" in seen[-1][1]


def test_remaining_reads_count_every_client_of_the_principal(make_cloud):
    """Two instances of the app (two clients, one principal) draw on one bucket, and the header says so."""
    make_cloud(demo_spec() | {"throttling": {"enabled": True, "reads": [250, 0.001]}})  # no refill to blur it
    credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
    instances = [ResourceManagementClient(credential, SUB, base_url=os.environ["SC_ARM_ENDPOINT"], **KWARGS)
                 for _ in range(2)]  # fmt: skip
    remaining = []
    for index in range(6):
        response = instances[index % 2].providers.get("Microsoft.ServiceLinker", cls=lambda r, *_: r)
        remaining.append(int(response.http_response.headers["x-ms-ratelimit-remaining-subscription-reads"]))
    assert remaining == [249 - n for n in range(6)]
