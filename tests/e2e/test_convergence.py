"""Convergence without waiting for the sweep, through the Functions entry points as the worker indexes them, with
Azurite as the app's storage (issue 20): a provider still registering requeues the cluster and the delayed queue
finishes it; a workload not deployed yet never blocks the repair of its connection's other workloads; a refused
Kubernetes patch fails the invocation with a finding naming the workload, the verb and the fix."""

from __future__ import annotations

import json
import time

import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from functions.events import ReconcileFailedError
from shared import container as app_module
from shared.adapters.storage import SWEEP_QUEUE, SweepStore
from shared.config import StorageSettings
from tests.conftest import CLUSTER, DATABASE, SUB, Admin, demo_spec, indexed_functions
from tests.e2e.conftest import SQL_TAGS, Estate, env_from_secrets
from tests.e2e.test_requeue import as_event, queued
from tests.e2e.test_sweep_fanout import drain
from tests.faults.test_budgets import fresh_storage


@pytest.fixture
def functions_on(azurite, monkeypatch):
    """The app as the Functions host runs it, on a local cloud made from `spec`, with Azurite as its storage."""

    def start(make_cloud, spec: dict):
        cloud = make_cloud(spec)
        monkeypatch.setenv("AzureWebJobsStorage", azurite)
        fresh_storage(azurite)  # what earlier tests of this session left in Azurite
        app_module.application.cache_clear()
        return cloud, Admin(cloud)

    yield start
    fresh_storage(azurite)  # and leaves nothing for later tests of this session
    app_module.application.cache_clear()


def call(name: str, *args):
    return indexed_functions()[name].get_user_function()(*args)


def test_a_registering_provider_converges_from_its_event(make_cloud, functions_on, azurite):
    _, admin = functions_on(make_cloud, demo_spec() | {"provider_registration_seconds": 1.0})
    estate = Estate(admin)
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    for raw in estate.new_events():
        call("on_resource_event", as_event(raw))  # registering: requeued, never raised, never counted done
    assert estate.linkers() == []
    queue = queued(azurite)
    assert queue.get_queue_properties().approximate_message_count >= 1
    deadline = time.monotonic() + 30
    while admin.state()["subscriptions"][SUB]["providers"]["Microsoft.KubernetesConfiguration"] != "Registered":
        assert time.monotonic() < deadline, "the provider never finished registering"
        time.sleep(0.1)
    # the delayed queue hands the cluster back once its wait is over (here: at once)
    call("reconcile_later", QueueMessage(body=json.dumps({"cluster": CLUSTER, "attempt": 1}).encode()))
    assert len(estate.linkers()) == 1 and env_from_secrets(estate.workload("Deployment", "api"))


def test_a_missing_workload_does_not_block_a_siblings_repair(make_cloud, functions_on, azurite):
    cloud, admin = functions_on(make_cloud, demo_spec())
    estate = Estate(admin)
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, {**SQL_TAGS, "sc-workloads": "deploy/api,deploy/late"})  # late: not deployed yet
    for raw in estate.new_events():
        call("on_resource_event", as_event(raw))
    assert env_from_secrets(estate.workload("Deployment", "api")), "api is wired although late is missing"
    store = cloud.cloud.clusters.runtime(CLUSTER).store  # a pipeline reverts api's wiring
    api = store.get("deployments", "shop", "api")
    api["spec"]["template"]["spec"]["containers"][0].pop("envFrom")
    store.apply(api)
    assert not env_from_secrets(estate.workload("Deployment", "api"))
    estate.rolled_out()
    call("sweep_timer", TimerRequest(past_due=False))
    [message] = drain(azurite, SWEEP_QUEUE)
    call("sweep_cluster", message)  # the connection stays an Error (late is missing): not a failed sweep
    assert env_from_secrets(estate.workload("Deployment", "api")), "the sweep did not repair api"
    store = SweepStore.from_settings(StorageSettings.from_env())
    run = json.loads(message.get_body())["run"]
    [path] = [b.name for b in store.container.list_blobs(name_starts_with="reports/") if b.name.endswith(f"{run}.json")]
    document = store.report(path)
    [connection] = document["connections"]
    assert connection["verdict"] == "Error" and connection["repaired"] is True
    assert {r["code"] for r in connection["reasons"]} >= {"WORKLOAD_NOT_FOUND", "WORKLOAD_NOT_WIRED"}


def test_a_refused_patch_is_a_finding_naming_the_workload(make_cloud, functions_on):
    _, admin = functions_on(make_cloud, demo_spec())
    estate = Estate(admin)
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    admin.post("faults", [{"kind": "status", "service": "kube", "method": "PATCH", "status": 403, "times": None,
                           "path": r"/namespaces/shop/deployments/api$"}])  # fmt: skip
    with pytest.raises(ReconcileFailedError) as raised:
        for raw in estate.new_events():
            call("on_resource_event", as_event(raw))
    message = str(raised.value)
    assert "refused to patch Deployment shop/api (403 Forbidden)" in message
    assert "allow the app's identity to patch deployments in namespace shop" in message
    assert env_from_secrets(estate.workload("StatefulSet", "worker")), "the other workloads were still wired"
