"""Event parsing: which ARM events are hints to act on, in both schemas; everything else is ignored."""

from __future__ import annotations

import json

import pytest

from shared.core import catalogue
from shared.core.eventgrid import HANDLED_OPERATIONS, EventHint, Ignored, decode, parse_event

SUB = "c0ffee00-0000-4000-8000-00000000d370"
DB = f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.Sql/servers/sql-shop/databases/orders"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks"
OPENAI = f"/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.CognitiveServices/accounts/oai"


def eventgrid(subject: str, operation: str, event_type: str = "Microsoft.Resources.ResourceWriteSuccess") -> dict:
    return {
        "id": "e1",
        "topic": f"/subscriptions/{SUB}",
        "subject": subject,
        "eventType": event_type,
        "dataVersion": "2",
        "data": {"operationName": operation, "status": "Succeeded", "correlationId": "c1", "resourceUri": subject},
    }


def cloudevent(subject: str, operation: str, event_type: str = "Microsoft.Resources.ResourceWriteSuccess") -> dict:
    event = eventgrid(subject, operation, event_type)
    return {"specversion": "1.0", "id": "e1", "source": event["topic"], "type": event_type, "subject": subject,
            "data": event["data"]}  # fmt: skip


@pytest.mark.parametrize("shape", [eventgrid, cloudevent])
@pytest.mark.parametrize(
    ("subject", "operation", "resource_id", "resource_type"),
    [
        (DB, "Microsoft.Sql/servers/databases/write", DB, "microsoft.sql/servers/databases"),
        (CLUSTER, "Microsoft.ContainerService/managedClusters/write", CLUSTER,
         "microsoft.containerservice/managedclusters"),
        (OPENAI, "Microsoft.CognitiveServices/accounts/write", OPENAI, "microsoft.cognitiveservices/accounts"),
        (f"{DB}/providers/Microsoft.Resources/tags/default", "Microsoft.Resources/tags/write", DB,
         "microsoft.sql/servers/databases"),
    ],
)  # fmt: skip
def test_handled_writes_become_hints(shape, subject, operation, resource_id, resource_type):
    hint = parse_event(shape(subject, operation))
    assert isinstance(hint, EventHint)
    assert (hint.resource_id, hint.resource_type, hint.deleted) == (resource_id, resource_type, False)
    assert hint.correlation_id == "c1"


def test_delete_events_are_marked_deleted():
    event = eventgrid(DB, "Microsoft.Sql/servers/databases/delete", "Microsoft.Resources.ResourceDeleteSuccess")
    hint = parse_event(event)
    assert isinstance(hint, EventHint) and hint.deleted


@pytest.mark.parametrize(
    "event",
    [
        "not an object",
        {"eventType": "Microsoft.Resources.ResourceActionSuccess", "subject": CLUSTER, "data": {}},
        eventgrid(f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers/x", "Microsoft.ServiceLinker/linkers/write"),
        eventgrid("/subscriptions/x/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/write"),
        eventgrid("../../etc/passwd", "Microsoft.Sql/servers/databases/write"),
        eventgrid(DB, "Microsoft.ContainerService/managedClusters/write"),  # operation does not match subject
        eventgrid(CLUSTER, "Microsoft.Resources/tags/write"),  # tags write without the tags subject
        {**eventgrid(DB, "Microsoft.Sql/servers/databases/write"), "data": "nope"},
    ],
)
def test_everything_else_is_ignored_with_a_reason(event):
    outcome = parse_event(event)
    assert isinstance(outcome, Ignored) and outcome.reason


def test_decode_accepts_arrays_single_events_and_rejects_oversized_payloads():
    assert len(decode(json.dumps([eventgrid(DB, "x"), eventgrid(DB, "y")]))) == 2
    assert len(decode(json.dumps(cloudevent(DB, "x")))) == 1
    with pytest.raises(ValueError, match="limit"):
        decode(b"[" + b" " * 1_048_577 + b"]")


def test_handled_operations_are_the_ones_the_infrastructure_filters_on():
    assert "Microsoft.Resources/tags/write" in HANDLED_OPERATIONS
    assert len(HANDLED_OPERATIONS) == len(set(HANDLED_OPERATIONS)) == 2 + 2 * len(catalogue.TAGGED_TYPES) + 1
