"""The delayed reconcile queue: an event for a busy cluster requeues it on Azure Storage (Azurite), invisible for
its requeue_after, and the queue trigger wires it once the cluster is Succeeded; a failed read raises, so the
platform redelivers."""

from __future__ import annotations

import json

import pytest
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from shared import container as app_module
from shared.adapters.storage import RECONCILE_QUEUE
from shared.core.planner import NOT_READY_RETRY_SECONDS
from tests.conftest import CLUSTER, DATABASE, indexed_functions
from tests.e2e.conftest import SQL_TAGS, env_from_secrets
from tests.e2e.test_sweep_fanout import storage  # noqa: F401 - the fixture, shared

EVENT = "on_resource_event"


def as_event(raw: dict):
    from azure.functions.eventgrid import EventGridEventInConverter
    from azure.functions.meta import Datum

    raw = {"eventTime": "2026-11-22T10:00:00Z", **raw}
    return EventGridEventInConverter.decode(Datum(json.dumps(raw), "json"), trigger_metadata={})


def queued(connection: str) -> QueueClient:
    return QueueClient.from_connection_string(
        connection, RECONCILE_QUEUE, message_decode_policy=TextBase64DecodePolicy()
    )


def test_a_busy_cluster_is_requeued_for_its_wait_and_the_queue_trigger_wires_it(storage, estate, admin):  # noqa: F811
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Updating"})
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    events = estate.new_events()
    for raw in events:
        indexed_functions()[EVENT].get_user_function()(as_event(raw))  # deferred: requeued, not raised
    queue = queued(storage)
    # one requeue per event that reached the busy cluster (a duplicate reconcile is idempotent)
    assert queue.get_queue_properties().approximate_message_count == len(events) == 2
    assert list(queue.peek_messages()) == [], f"visible before its {NOT_READY_RETRY_SECONDS} s wait is over"
    assert estate.linkers() == []
    admin.post("provisioning-state", {"id": CLUSTER, "state": "Succeeded"})
    message = QueueMessage(body=json.dumps({"cluster": CLUSTER, "attempt": 1}).encode(), dequeue_count=1)
    indexed_functions()["reconcile_later"].get_user_function()(message)
    assert len(estate.linkers()) == 1 and env_from_secrets(estate.workload("Deployment", "api"))


def test_an_event_whose_reads_fail_raises_so_event_grid_redelivers(storage, estate, admin):  # noqa: F811
    estate.tag(CLUSTER, {"sc-group": "shop"})
    [raw] = estate.new_events()
    # the cluster's own linker listing, which every reconcile reads
    admin.post("faults", [{"kind": "status", "service": "arm", "method": "GET", "status": 403,
                           "path": r"/managedClusters/aks-shop/providers/Microsoft.ServiceLinker/linkers$",
                           "times": None}])  # fmt: skip
    with pytest.raises(RuntimeError, match=r"failure\(s\)"):
        indexed_functions()[EVENT].get_user_function()(as_event(raw))
    assert admin.get("faults")["faults"][0]["hits"] >= 1, "the event never made the failing read"
    app_module.application.cache_clear()


def test_the_requeue_trigger_listens_on_the_reconcile_queue():
    [binding] = [json.loads(b) for b in indexed_functions()["reconcile_later"].get_raw_bindings()]
    assert binding["type"] == "queueTrigger" and binding["queueName"] == RECONCILE_QUEUE == "sc-reconcile"
    assert binding["connection"] == "AzureWebJobsStorage" and binding["name"] == "message"
