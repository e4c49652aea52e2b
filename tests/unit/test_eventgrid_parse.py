"""Every event shape the app can receive, as Azure sends it (docs/FACTS.md section 5), to the exact hint or the exact
reason it is ignored: an ignored event is logged with that reason, a hint starts a reconcile."""

from __future__ import annotations

import json

import pytest

from shared.core.eventgrid import MAX_EVENT_BYTES, EventHint, Ignored, decode, parse_event, resource_type_of

SUB = "c0ffee00-0000-4000-8000-00000000d370"
RG = f"/subscriptions/{SUB}/resourcegroups/rg-shop"  # ARM's own events spell it in lower case
DB = f"{RG}/providers/Microsoft.Sql/servers/sql-shop/databases/orders"
CLUSTER = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks"
OPENAI = f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai"
TAGS = "/providers/Microsoft.Resources/tags/default"
WRITE, DELETE = "Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"
ACTION = "Microsoft.Resources.ResourceActionSuccess"


def data(subject: str, operation: str, **changes) -> dict:
    """`data` of an ARM event: no tags and no properties, only who did what to which resource."""
    full = {
        "authorization": {"scope": subject, "action": operation, "evidence": {"role": "Owner"}},
        "claims": {"appid": "a1", "oid": "o1"},
        "correlationId": "corr-1",
        "httpRequest": {"method": "PUT", "url": f"https://management.azure.com{subject}?api-version=2023-05-01"},
        "operationName": operation,
        "resourceProvider": str(operation).split("/", 1)[0],
        "resourceUri": subject,
        "status": "Succeeded",
        "subscriptionId": SUB,
        "tenantId": "t1",
    }
    full.update(changes)
    return {k: v for k, v in full.items() if v is not ...}


def eventgrid(subject: str, operation: str, event_type: str = WRITE, **changes) -> dict:
    return {"id": "ev-1", "topic": f"/subscriptions/{SUB}", "subject": subject, "eventType": event_type,
            "eventTime": "2026-12-01T14:00:00Z", "dataVersion": "2", "metadataVersion": "1",
            "data": data(subject, operation, **changes)}  # fmt: skip


def cloudevent(subject: str, operation: str, event_type: str = WRITE, **changes) -> dict:
    return {"specversion": "1.0", "id": "ev-1", "source": f"/subscriptions/{SUB}", "type": event_type,
            "subject": subject, "time": "2026-12-01T14:00:00Z",
            "data": data(subject, operation, **changes)}  # fmt: skip


def hint(resource_id: str, resource_type: str, operation: str, deleted: bool = False, **fields) -> EventHint:
    return EventHint(**{"resource_id": resource_id, "resource_type": resource_type, "deleted": deleted,
                        "event_id": "ev-1", "correlation_id": "corr-1", "operation": operation, **fields})  # fmt: skip


SQL_T, AKS_T = "microsoft.sql/servers/databases", "microsoft.containerservice/managedclusters"
OAI_T = "microsoft.cognitiveservices/accounts"


@pytest.mark.parametrize("shape", [eventgrid, cloudevent])
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((DB, "Microsoft.Sql/servers/databases/write"), hint(DB, SQL_T, "microsoft.sql/servers/databases/write")),
        ((CLUSTER, "Microsoft.ContainerService/managedClusters/write"),
         hint(CLUSTER, AKS_T, "microsoft.containerservice/managedclusters/write")),
        ((OPENAI, "Microsoft.CognitiveServices/accounts/write"),
         hint(OPENAI, OAI_T, "microsoft.cognitiveservices/accounts/write")),
        ((DB + TAGS, "Microsoft.Resources/tags/write"), hint(DB, SQL_T, "microsoft.resources/tags/write")),
        ((CLUSTER + TAGS.lower(), "Microsoft.Resources/tags/write"),
         hint(CLUSTER, AKS_T, "microsoft.resources/tags/write")),
        ((DB, "Microsoft.Sql/servers/databases/delete", DELETE),
         hint(DB, SQL_T, "microsoft.sql/servers/databases/delete", deleted=True)),
        ((CLUSTER, "Microsoft.ContainerService/managedClusters/delete", DELETE),
         hint(CLUSTER, AKS_T, "microsoft.containerservice/managedclusters/delete", deleted=True)),
        # a delete needs both the event type and the operation to say so; anything else is re-read
        ((DB, "Microsoft.Sql/servers/databases/delete", WRITE),
         hint(DB, SQL_T, "microsoft.sql/servers/databases/delete")),
        ((DB, "Microsoft.Sql/servers/databases/write", DELETE),
         hint(DB, SQL_T, "microsoft.sql/servers/databases/write")),
        ((DB + TAGS, "Microsoft.Resources/tags/write", DELETE), hint(DB, SQL_T, "microsoft.resources/tags/write")),
        # the bare minimum: no status, no correlation id, the subject only in resourceUri
        ((DB, "Microsoft.Sql/servers/databases/write", WRITE, {"status": ..., "correlationId": ...}),
         hint(DB, SQL_T, "microsoft.sql/servers/databases/write", correlation_id="")),
        ((DB, "Microsoft.Sql/servers/databases/write", WRITE, {"correlationId": 7}),
         hint(DB, SQL_T, "microsoft.sql/servers/databases/write", correlation_id="")),
    ],
)  # fmt: skip
def test_events_about_handled_resources_become_hints(shape, args, expected):
    subject, operation, event_type, changes = (*args, *(WRITE, {})[len(args) - 2 :])
    assert parse_event(shape(subject, operation, event_type, **changes)) == expected


def test_the_resource_comes_from_resource_uri_when_there_is_no_subject():
    event = eventgrid(DB, "Microsoft.Sql/servers/databases/write")
    del event["subject"]
    assert parse_event(event) == hint(DB, SQL_T, "microsoft.sql/servers/databases/write")


def test_the_subject_wins_over_resource_uri():
    event = eventgrid(DB, "Microsoft.Sql/servers/databases/write", resourceUri=OPENAI)
    assert parse_event(event) == hint(DB, SQL_T, "microsoft.sql/servers/databases/write")


def test_an_event_id_that_is_not_text_is_empty():
    event = {**eventgrid(DB, "Microsoft.Sql/servers/databases/write"), "id": 42}
    assert parse_event(event) == hint(DB, SQL_T, "microsoft.sql/servers/databases/write", event_id="")


LONG_TYPE = f"{RG}/providers/Microsoft.Foo/" + "/".join(["kinds", "n"] * 40)  # a type of more than 200 characters


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an object", "not a JSON object"),
        ([eventgrid(DB, "Microsoft.Sql/servers/databases/write")], "not a JSON object"),
        (eventgrid(CLUSTER, "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", ACTION),
         f"event type {ACTION!r} is not handled"),
        ({**eventgrid(DB, "x"), "eventType": "E" * 150}, f"event type {'E' * 100!r} is not handled"),
        ({"id": "ev-1", "subject": DB, "data": {}}, "event type '' is not handled"),
        ({"id": "ev-1", "eventType": WRITE, "subject": DB}, "event has no data object"),
        ({**eventgrid(DB, "x"), "data": "nope"}, "event has no data object"),
        (eventgrid(DB, "Microsoft.Sql/servers/databases/write", status="Failed"), "status 'Failed' is not Succeeded"),
        (eventgrid(DB, "Microsoft.Sql/servers/databases/write", status="succeeded"),
         "status 'succeeded' is not Succeeded"),
        (eventgrid(DB, "Microsoft.Sql/servers/databases/write", status="F" * 50),
         f"status {'F' * 40!r} is not Succeeded"),
        (eventgrid(DB, "Microsoft.Sql/servers/databases/write", status=3), "status '' is not Succeeded"),
        (eventgrid(CLUSTER, "Microsoft.Resources/tags/write"),
         "tags write whose subject is not <id>/providers/Microsoft.Resources/tags/default"),
        (eventgrid(DB + TAGS, "Microsoft.Resources/tags/delete", DELETE),
         f"resource type {SQL_T + '/providers/tags'!r} is not handled"),
        (eventgrid("../../etc/passwd", "Microsoft.Sql/servers/databases/write"),
         "subject '../../etc/passwd' is not a resource id"),
        (eventgrid(f"{RG}/providers/Microsoft.Sql/servers/s/databases/..", "Microsoft.Sql/servers/databases/write"),
         f"subject {RG + '/providers/Microsoft.Sql/servers/s/databases/..'!r} is not a resource id"),
        (eventgrid("/x" * 150, "Microsoft.Sql/servers/databases/write"),
         f"subject {('/x' * 150)[:200]!r} is not a resource id"),
        (eventgrid(f"{RG}/providers/Microsoft.Sql/servers/s/databases", "Microsoft.Sql/servers/databases/write"),
         "resource type '' is not handled"),
        (eventgrid(f"{RG}/providers/Microsoft.Sql/servers/s", "Microsoft.Sql/servers/write"),
         "resource type 'microsoft.sql/servers' is not handled"),
        (eventgrid(f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers/x", "Microsoft.ServiceLinker/linkers/write"),
         "resource type 'microsoft.containerservice/managedclusters/providers/linkers' is not handled"),
        (eventgrid(LONG_TYPE, "Microsoft.Foo/kinds/write"),
         f"resource type {('microsoft.foo/' + '/'.join(['kinds'] * 40))[:200]!r} is not handled"),
        (eventgrid(DB, "Microsoft.ContainerService/managedClusters/write"),
         "operation 'microsoft.containerservice/managedclusters/write' does not match the subject's type"),
        (eventgrid(DB, "Microsoft.Sql/servers/databases/" + "w" * 120),
         f"operation {('microsoft.sql/servers/databases/' + 'w' * 120)[:100]!r} does not match the subject's type"),
        (eventgrid(DB, "Microsoft.Sql/servers/databases/restore/action"),
         "operation 'microsoft.sql/servers/databases/restore/action' does not match the subject's type"),
        (eventgrid(DB, None), "operation '' does not match the subject's type"),
    ],
)  # fmt: skip
def test_everything_else_is_ignored_with_its_reason(event, reason):
    expected_id = "ev-1" if isinstance(event, dict) else ""
    assert parse_event(event) == Ignored(reason, expected_id)


def test_the_cloudevents_schema_is_read_by_its_own_field_names():
    event = cloudevent(DB, "Microsoft.Sql/servers/databases/write", status="Failed")
    assert parse_event(event) == Ignored("status 'Failed' is not Succeeded", "ev-1")


@pytest.mark.parametrize(
    ("namespace", "rest", "expected"),
    [
        ("Microsoft.Sql", "servers/s/databases/d", "microsoft.sql/servers/databases"),
        ("Microsoft.ContainerService", "managedClusters/aks", "microsoft.containerservice/managedclusters"),
        ("Microsoft.Sql", "servers/s/databases", ""),
        ("Microsoft.Sql", "servers//s/", "microsoft.sql/servers"),
        ("Microsoft.Sql", "", "microsoft.sql"),
    ],
)
def test_resource_type_of_an_id_is_its_namespace_and_every_other_segment(namespace, rest, expected):
    assert resource_type_of(namespace, rest) == expected


def test_decode_reads_an_eventgrid_array_a_cloudevent_or_a_cloudevents_batch():
    one, two = eventgrid(DB, "a"), cloudevent(CLUSTER, "b")
    assert decode(json.dumps([one, two])) == [one, two]
    assert decode(json.dumps(two).encode()) == [two]
    assert decode(json.dumps([two])) == [two]
    assert decode([one]) == [one] and decode(one) == [one]  # the Functions binding may hand over parsed JSON


def test_decode_takes_a_payload_of_exactly_the_limit_and_refuses_one_byte_more():
    body = json.dumps([eventgrid(DB, "a")])
    at_limit = body + " " * (MAX_EVENT_BYTES - len(body))
    assert decode(at_limit) == json.loads(body)
    with pytest.raises(ValueError) as refused:
        decode(at_limit.encode() + b" ")
    assert str(refused.value) == "event payload is 1048577 bytes; the limit is 1048576"
    assert MAX_EVENT_BYTES == 1_048_576  # Event Grid's own limit for an event batch


def test_decode_refuses_a_payload_nested_too_deeply_and_leaves_other_json_errors_to_the_caller():
    with pytest.raises(ValueError) as refused:
        decode("[" * 100_000)
    assert str(refused.value) == "event payload is nested too deeply"
    with pytest.raises(json.JSONDecodeError):
        decode("{")
