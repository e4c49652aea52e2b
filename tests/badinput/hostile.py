"""The catalogue of hostile and broken inputs (issue 6), shared by the pure and the end-to-end layers.

Every entry is `pytest.param(..., id=...)` with a readable id; `ALL` counts the distinct inputs of the suite.
"""

from __future__ import annotations

import json

import pytest

from shared.core.eventgrid import MAX_EVENT_BYTES, TAGS_SUFFIX, WRITE
from tests.conftest import CLUSTER, DATABASE, OPENAI, SUB

OTHER_SUB = "deadbeef-0000-4000-8000-000000000bad"
DB_WRITE = "Microsoft.Sql/servers/databases/write"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
TAGS_WRITE = "Microsoft.Resources/tags/write"


def eventgrid(subject: object, operation: object = DB_WRITE, event_type: object = WRITE, **data: object) -> dict:
    """An ARM event in Event Grid schema, as the subscription's system topic sends it."""
    return {
        "id": "bad-1",
        "topic": f"/subscriptions/{SUB}",
        "subject": subject,
        "eventType": event_type,
        "eventTime": "2026-11-22T10:00:00Z",
        "dataVersion": "2",
        "data": {"operationName": operation, "status": "Succeeded", "correlationId": "c1", **data},
    }


def without(event: dict, key: str) -> dict:
    return {k: v for k, v in event.items() if k != key}


def with_data(event: dict, data: object) -> dict:
    return {**event, "data": data}


GENUINE = eventgrid(DATABASE, DB_WRITE)

# -- raw bodies: non-JSON, truncated, hostile JSON documents, 1 MB ----------------------------------------
RAW_NOT_JSON = [
    pytest.param(b"", id="empty-body"),
    pytest.param("this is not json", id="not-json"),
    pytest.param(json.dumps([GENUINE])[:-9], id="truncated-event"),
    pytest.param(json.dumps(GENUINE)[:40], id="truncated-mid-string"),
    pytest.param(b"\xff\xfe\xfa\x00garbage", id="not-utf8"),
    pytest.param("\ufeff" + json.dumps([GENUINE]), id="byte-order-mark"),
    pytest.param(b"\x00" * 64, id="nul-bytes"),
]
RAW_HOSTILE_JSON = [
    pytest.param("[" * 100_000, id="deeply-nested-array"),
    pytest.param('{"a":' * 60_000, id="deeply-nested-object"),
    pytest.param("null", id="json-null"),
    pytest.param("42", id="json-number"),
    pytest.param('"Microsoft.Resources.ResourceWriteSuccess"', id="json-string"),
    pytest.param('[1, "x", null, true, [], 1e999]', id="array-of-scalars"),
    pytest.param("[NaN, Infinity, -Infinity]", id="nan-and-infinity"),
]
RAW_1MB = [
    pytest.param(b"[" + b" " * MAX_EVENT_BYTES + b"]", id="over-1mb-bytes"),
    pytest.param("[" + " " * MAX_EVENT_BYTES + "]", id="over-1mb-str"),
    pytest.param(json.dumps([eventgrid(DATABASE + "/" + "a" * 1_000_000)]), id="1mb-subject-within-limit"),
]
RAW = {"not-json-or-truncated": RAW_NOT_JSON, "hostile-json": RAW_HOSTILE_JSON, "1mb": RAW_1MB}
RAW_PAYLOADS = RAW_NOT_JSON + RAW_HOSTILE_JSON + RAW_1MB

# -- events that parse as JSON objects but must be ignored --------------------------------------------------
_1MB = "x" * 1_000_000
EVENTS_WRONG_SCHEMA = [
    pytest.param({}, id="empty-object"),
    pytest.param(without(GENUINE, "eventType"), id="no-event-type"),
    pytest.param(without(GENUINE, "data"), id="no-data"),
    pytest.param(with_data(GENUINE, "nope"), id="data-is-a-string"),
    pytest.param(with_data(GENUINE, [GENUINE["data"]]), id="data-is-a-list"),
    pytest.param(with_data(GENUINE, None), id="data-is-null"),
    pytest.param({**GENUINE, "eventType": [WRITE]}, id="event-type-is-a-list"),
    pytest.param(eventgrid(42, resourceUri=42), id="subject-is-a-number"),
    pytest.param(eventgrid(None), id="subject-and-resource-uri-missing"),
    pytest.param(eventgrid(DATABASE, status="Failed"), id="status-failed"),
    pytest.param(eventgrid(DATABASE, status={"$ne": "Failed"}), id="status-is-an-object"),
    pytest.param(eventgrid(DATABASE, None), id="no-operation-name"),
    pytest.param(eventgrid(DATABASE, CLUSTER_WRITE), id="operation-of-another-type"),
    pytest.param({**eventgrid(DATABASE, DB_WRITE, "Other"), "id": {"$where": "1"}}, id="id-is-an-object"),
    pytest.param(
        {"specversion": "1.0", "id": "c", "source": "/x", "subject": DATABASE, "data": GENUINE["data"]},
        id="cloudevent-without-type",
    ),
    pytest.param(eventgrid(DATABASE, DB_WRITE, WRITE.lower()), id="event-type-lower-case"),
    pytest.param({**GENUINE, "eventType": "Other", "data": {"padding": _1MB}}, id="data-1mb"),
]
EVENTS_UNKNOWN_TYPE = [
    pytest.param(
        eventgrid(
            DATABASE, "Microsoft.Sql/servers/databases/listKeys/action", "Microsoft.Resources.ResourceActionSuccess"
        ),
        id="action-event",
    ),
    pytest.param(
        eventgrid("/blobServices/default/containers/c/blobs/b", "x", "Microsoft.Storage.BlobCreated"),
        id="storage-event",
    ),
    pytest.param(
        eventgrid(DATABASE, DB_WRITE, "Microsoft.EventGrid.SubscriptionValidationEvent"),
        id="subscription-validation-event",
    ),
    pytest.param(eventgrid(DATABASE, DB_WRITE, "\x1b[31m" + "T" * 10_000 + "\n"), id="huge-event-type-with-escapes"),
]
EVENTS_NOT_A_RESOURCE_ID = [
    pytest.param(eventgrid("../../etc/passwd"), id="subject-path-traversal"),
    pytest.param(eventgrid(DATABASE.replace(SUB, "not-a-guid")), id="subject-subscription-not-a-guid"),
    pytest.param(eventgrid(DATABASE + "\n"), id="subject-trailing-newline"),
    pytest.param(eventgrid(DATABASE.replace("servers/", "servers//")), id="subject-empty-segment"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", ".."), CLUSTER_WRITE), id="subject-dot-dot-name"),
    pytest.param(eventgrid(CLUSTER.replace("rg-shop", ".."), CLUSTER_WRITE), id="subject-dot-dot-resource-group"),
    pytest.param(eventgrid(CLUSTER + "\x00", CLUSTER_WRITE), id="subject-nul"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "aks-shop\u200f"), CLUSTER_WRITE), id="subject-rtl-mark"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "aks\u200b-shop"), CLUSTER_WRITE), id="subject-zero-width"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "aks-shop\U0001f525"), CLUSTER_WRITE), id="subject-emoji"),
    pytest.param(eventgrid(CLUSTER.replace(SUB, OTHER_SUB), CLUSTER_WRITE), id="subject-foreign-subscription"),
    pytest.param(eventgrid(DATABASE, TAGS_WRITE), id="tags-write-without-tags-subject"),
    pytest.param(eventgrid(CLUSTER + "\n" + TAGS_SUFFIX, TAGS_WRITE), id="tags-subject-with-newline"),
    pytest.param(eventgrid("https://management.azure.com" + CLUSTER, CLUSTER_WRITE), id="subject-full-url"),
    pytest.param(eventgrid(CLUSTER + "?api-version=2024-01-01", CLUSTER_WRITE), id="subject-query-string"),
    pytest.param(eventgrid(CLUSTER + ";rm -rf /", CLUSTER_WRITE), id="subject-shell-injection"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "$(whoami)"), CLUSTER_WRITE), id="subject-command-substitution"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "`id`"), CLUSTER_WRITE), id="subject-backticks"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "%2e%2e"), CLUSTER_WRITE), id="subject-encoded-traversal"),
    pytest.param(eventgrid(CLUSTER.replace("aks-shop", "aks-shop%00"), CLUSTER_WRITE), id="subject-percent-00"),
    pytest.param(eventgrid('{"a":1}'), id="subject-json-fragment"),
    pytest.param(eventgrid("a: [b]"), id="subject-yaml-fragment"),
    pytest.param(
        eventgrid(CLUSTER + "/agentPools/np1", "Microsoft.ContainerService/managedClusters/agentPools/write"),
        id="subject-child-resource",
    ),
    pytest.param(
        eventgrid(
            CLUSTER + "/providers/Microsoft.ServiceLinker/linkers/scap_x", "Microsoft.ServiceLinker/linkers/write"
        ),
        id="subject-linker",
    ),
    pytest.param(eventgrid(f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/" + _1MB), id="subject-1mb"),
]
EVENT_CATEGORIES = {
    "wrong-schema": EVENTS_WRONG_SCHEMA,
    "unknown-type": EVENTS_UNKNOWN_TYPE,
    "not-a-resource-id": EVENTS_NOT_A_RESOURCE_ID,
}
EVENTS = EVENTS_WRONG_SCHEMA + EVENTS_UNKNOWN_TYPE + EVENTS_NOT_A_RESOURCE_ID

# -- tag values (Azure: names up to 512 characters, values up to 256) --------------------------------------
KV = "https://kv-shop.vault.azure.net/secrets/sql-orders-password"
PASSWORD_URLS = [
    pytest.param("https://evil.example.com/secrets/sql-orders-password", id="kv-other-host"),
    pytest.param("https://kv-shop.vault.azure.net.evil.com/secrets/sql-orders-password", id="kv-suffix-then-evil"),
    pytest.param("https://user@kv-shop.vault.azure.net/secrets/sql-orders-password", id="kv-userinfo"),
    pytest.param("https://:pw@kv-shop.vault.azure.net/secrets/sql-orders-password", id="kv-empty-user-password"),
    pytest.param("https://@kv-shop.vault.azure.net/secrets/sql-orders-password", id="kv-empty-userinfo"),
    pytest.param("https://kv-shop.vault.azure.net@evil.com/secrets/sql-orders-password", id="kv-host-as-userinfo"),
    pytest.param("https://kv-shop.vault.azure.net\\@evil.com/secrets/x", id="kv-backslash-at"),
    pytest.param("http://kv-shop.vault.azure.net/secrets/sql-orders-password", id="kv-http"),
    pytest.param("https://10.0.0.1/secrets/sql-orders-password", id="kv-ipv4"),
    pytest.param("https://[::1]/secrets/sql-orders-password", id="kv-ipv6"),
    pytest.param("https://kv-shop.vault.azure.net:8443/secrets/sql-orders-password", id="kv-port"),
    pytest.param("https://kv-shop.vault.azure.net:abc/secrets/x", id="kv-bad-port"),
    pytest.param("https://kv-shop.vault.azure.net/keys/sql-orders-password", id="kv-keys-path"),
    pytest.param("https://kv-shop.vault.azure.net/certificates/x", id="kv-certificates-path"),
    pytest.param("https://kv-shop.vault.azure.net/secrets/../keys/x", id="kv-path-traversal"),
    pytest.param("https://kv-shop.vault.azure.net/secrets/x/../../keys/y", id="kv-deep-path-traversal"),
    pytest.param("https://kv-shop.vault.azure.net/secrets/%2e%2e%2fkeys", id="kv-encoded-traversal"),
    pytest.param(KV + "?api-version=7.4", id="kv-query"),
    pytest.param("https://evil.com#.vault.azure.net/secrets/x", id="kv-fragment-trick"),
    pytest.param("https://kv-sh\nop.vault.azure.net/secrets/sql-orders-password", id="kv-newline-in-host"),
    pytest.param("https://kv-shop.vault.azure.net/secr\tets/sql-orders-password", id="kv-tab-in-path"),
    pytest.param("https://kv-sh\u043ep.vault.azure.net/secrets/x", id="kv-homograph"),
    pytest.param("https://kv-shop\uff0evault.azure.net/secrets/x", id="kv-fullwidth-dot"),
    pytest.param("https://vault.azure.net/secrets/x", id="kv-no-vault-name"),
    pytest.param("https://a.b.vault.azure.net/secrets/x", id="kv-nested-vault-name"),
    pytest.param("file:///etc/passwd", id="kv-file-url"),
    pytest.param("javascript:alert(1)", id="kv-javascript-url"),
    pytest.param(KV + "/not-a-version", id="kv-bad-version"),
    pytest.param("Demo-Only-P@ssw0rd-7c1f", id="kv-a-password-not-a-url"),
]
# (tag, value) on a SQL database target, by category; every one must give a TAG_INVALID finding naming that tag
TARGET_TAG_CATEGORIES = {
    "256-char-limit": [
        pytest.param("sc-group", "g" * 256, id="group-256-chars"),
        pytest.param("sc-namespace", "n" * 256, id="namespace-256-chars"),
        pytest.param("sc-sql-user", "u" * 256, id="sql-user-256-chars"),
        pytest.param("sc-client-type", "p" * 256, id="client-type-256-chars"),
        pytest.param("sc-workloads", "ds/" + "a" * 254, id="workloads-257-chars-over-the-limit"),
        pytest.param("sc-workloads", "ds/a," * 21, id="workloads-21-entries"),
        pytest.param("sc-sql-password", "https://kv-shop.vault.azure.net/secrets/" + "s" * 216, id="kv-256-chars"),
    ],
    "unicode": [
        pytest.param("sc-group", "shop\u200f", id="group-rtl-mark"),
        pytest.param("sc-group", "\uff53\uff48\uff4f\uff50", id="group-fullwidth"),
        pytest.param("sc-namespace", "sh\u200bop", id="namespace-zero-width"),
        pytest.param("sc-namespace", "shop\x00", id="namespace-nul"),
        pytest.param("sc-namespace", "shop\nkube-system", id="namespace-newline"),
        pytest.param("sc-workloads", "deploy/web\U0001f525", id="workloads-emoji"),
        pytest.param("sc-workloads", "deployment/api\nworker", id="workloads-newline"),
        pytest.param("sc-workloads", "deployment/\u202eipa", id="workloads-rtl-override"),
        pytest.param("sc-sql-user", "orders\u200d_app", id="sql-user-zero-width-joiner"),
        pytest.param("sc-client-type", "python\x00", id="client-type-nul"),
    ],
    "injection": [
        pytest.param("sc-workloads", "deployment/api;rm -rf /", id="workloads-shell-injection"),
        pytest.param("sc-workloads", "deployment/../kube-system/coredns", id="workloads-path-traversal"),
        pytest.param("sc-workloads", '{"a":1}', id="workloads-json-fragment"),
        pytest.param("sc-workloads", "a: [b]", id="workloads-yaml-fragment"),
        pytest.param("sc-workloads", "deployment/`id`", id="workloads-backticks"),
        pytest.param("sc-workloads", "deployment/api:app;rm", id="workloads-container-injection"),
        pytest.param("sc-namespace", "../kube-system", id="namespace-path-traversal"),
        pytest.param("sc-namespace", "$(whoami)", id="namespace-command-substitution"),
        pytest.param("sc-namespace", "shop%00", id="namespace-percent-00"),
        pytest.param("sc-namespace", '{"a":1}', id="namespace-json-fragment"),
        pytest.param("sc-sql-user", "x'; DROP TABLE users;--", id="sql-user-sql-injection"),
        pytest.param("sc-client-type", "python; rm -rf /", id="client-type-shell-injection"),
        pytest.param("sc-auth", "secret;workload-identity", id="auth-two-values"),
        pytest.param("sc-group", "shop,$(whoami)", id="group-command-substitution"),
    ],
    "invalid-names": [
        pytest.param("sc-namespace", "kube-system", id="namespace-kube-system"),
        pytest.param("sc-namespace", "gatekeeper-system", id="namespace-gatekeeper-system"),
        pytest.param("sc-namespace", "Shop", id="namespace-upper-case"),
        pytest.param("sc-namespace", "-shop", id="namespace-leading-dash"),
        pytest.param("sc-namespace", "a" * 64, id="namespace-64-chars"),
        pytest.param("sc-workloads", "pod/api", id="workloads-unknown-kind"),
        pytest.param("sc-workloads", "deployment/API", id="workloads-upper-case"),
        pytest.param("sc-workloads", "deployment/", id="workloads-no-name"),
        pytest.param("sc-workloads", "deployment/api:", id="workloads-empty-container"),
        pytest.param("sc-workloads", "/api", id="workloads-no-kind"),
        pytest.param("sc-workloads", "deployment/a..b", id="workloads-double-dot-name"),
    ],
}
# (tag, value) on a cluster, by category; every one must give a TAG_INVALID finding naming that tag
CLUSTER_TAG_CATEGORIES = {
    "256-char-limit": [pytest.param("sc-identity", "i" * 256, id="identity-256-chars")],
    "unicode": [pytest.param("sc-identity", "id-shop-workloads\u202e", id="identity-rtl-override")],
    "injection": [
        pytest.param("sc-group", "shop;rm -rf /", id="cluster-group-shell-injection"),
        pytest.param("sc-identity", "$(whoami)", id="identity-command-substitution"),
        pytest.param("sc-identity", "../kube-system/x", id="identity-path-traversal"),
        pytest.param("sc-identity", "../id-shop-workloads", id="identity-dot-dot-resource-group"),
        pytest.param("sc-identity", "rg-shop./id-shop-workloads", id="identity-resource-group-trailing-dot"),
        pytest.param(
            "sc-identity",
            "/subscriptions/" + SUB + "/resourceGroups/rg-shop/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/..",
            id="identity-id-dot-dot",
        ),
    ],
    "invalid-names": [pytest.param("sc-identity", OPENAI, id="identity-not-an-identity")],
}
TARGET_TAGS = [p for params in TARGET_TAG_CATEGORIES.values() for p in params]
CLUSTER_TAGS_HOSTILE = [p for params in CLUSTER_TAG_CATEGORIES.values() for p in params]

ALL = RAW_PAYLOADS + EVENTS + PASSWORD_URLS + TARGET_TAGS + CLUSTER_TAGS_HOSTILE
