"""The sweep fanned out through Azure Storage queues (Azurite): timer -> one message per cluster -> queue
trigger per cluster -> results in Blob Storage -> the report; a poison message still completes the report."""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from shared import container as app_module
from shared.adapters.budgets import STATE_CONTAINER
from shared.adapters.storage import SWEEP_QUEUE, SweepStore
from shared.config import StorageSettings
from tests.conftest import CLUSTER, DATABASE, indexed_functions
from tests.e2e.conftest import SQL_TAGS


@pytest.fixture
def storage(azurite, monkeypatch, cloud):
    """The app's storage account, its budget counters fresh (Azurite lives for the whole session)."""
    state = BlobServiceClient.from_connection_string(azurite).get_container_client(STATE_CONTAINER)
    if state.exists():
        for blob in state.list_blobs():
            state.delete_blob(blob.name)
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("SC_SWEEP_SCHEDULE", "0 0 * * * *")
    app_module.application.cache_clear()
    yield azurite
    app_module.application.cache_clear()


def functions() -> dict[str, func.Function]:
    return indexed_functions()


def drain(connection: str, queue: str) -> list[func.QueueMessage]:
    """Receive what the host would hand to a queue trigger, as azure.functions QueueMessages."""
    client = QueueClient.from_connection_string(connection, queue, message_decode_policy=TextBase64DecodePolicy())
    messages = []
    for message in client.receive_messages(max_messages=32):
        messages.append(QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=1))
        client.delete_message(message)
    return messages


def test_timer_fans_out_and_the_last_cluster_writes_the_report(storage, estate, admin):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    app_module.application().events.handle(estate.new_events())
    functions()["sweep_timer"].get_user_function()(TimerRequest(past_due=False))
    messages = drain(storage, SWEEP_QUEUE)
    assert [json.loads(m.get_body())["cluster"] for m in messages] == [CLUSTER]
    mark = admin.mark()
    for message in messages:
        functions()["sweep_cluster"].get_user_function()(message)
    listings = [r["path"] for r in admin.requests_since(mark) if r["path"].endswith(("/resources", "/managedClusters"))]
    assert listings == [], "a queue-triggered sweep lists the estate again instead of using the run's snapshot"
    store = SweepStore.from_settings(StorageSettings.from_env())
    run = json.loads(messages[0].get_body())["run"]  # Azurite lives for the session: other tests' runs report too
    reports = [b.name for b in store.container.list_blobs(name_starts_with="reports/") if f"/{run}." in b.name]
    assert len(reports) == 2 and {r.rsplit(".", 1)[1] for r in reports} == {"json", "html"}
    document = store.report(next(r for r in reports if r.endswith(".json")))
    assert document["summary"]["verdicts"]["Compliant"] == 1 and document["summary"]["clusters"] == 1


def test_a_poison_message_is_reported_never_silently_dropped(storage):
    store = SweepStore.from_settings(StorageSettings.from_env())
    gone = "/subscriptions/x/resourceGroups/r/providers/Microsoft.ContainerService/managedClusters/gone"
    run = store.start([gone], dry_run=True)
    [message] = drain(storage, SWEEP_QUEUE)
    poisoned = QueueMessage(id=message.id, body=message.get_body(), dequeue_count=5)
    functions()["sweep_poison"].get_user_function()(poisoned)
    reports = [b.name for b in store.container.list_blobs(name_starts_with="reports/") if run in b.name]
    document = store.report(next(r for r in reports if r.endswith(".json")))
    assert [(f["code"], f["resource"]) for f in document["findings"]] == [("SWEEP_FAILED", gone)]
    assert document["summary"]["clusters"] == 1


def test_run_now_over_http_answers_202_with_the_run(storage):
    request = func.HttpRequest("POST", "/api/sweep", body=b"", params={"dryRun": "true"})
    response = functions()["sweep_now"].get_user_function()(request)
    assert response.status_code == 202 and json.loads(response.get_body())["run"]
