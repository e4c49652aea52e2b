"""The removal budget is the Function App's, not an invocation's (issue 20): an un-tagging storm delivered to several
worker processes at once carries out at most SC_MAX_REMOVALS_PER_HOUR removals in all, counted in the app's storage
account (Azurite) with ETags; the rest is held (REMOVALS_HELD) until an operator releases it with
`sc-autopilot apply --max-removals N`, which is logged."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from shared import container as app_module
from shared.adapters.budgets import REMOVALS_BLOB, STATE_CONTAINER, BlobCounters
from shared.adapters.storage import INDEX_CONTAINER, RECONCILE_QUEUE, SWEEP_QUEUE, SweepStore
from shared.cli import main
from shared.config import Settings, StorageSettings
from shared.core.orphans import ORPHANED_SINCE
from shared.service.estate import Estate
from shared.service.run import Runs
from tests.conftest import DATABASE, OPENAI, ROOT, SUB, indexed_functions
from tests.e2e.test_sweep_fanout import drain
from tests.faults.world import OAI_TWO, SQL_LEDGER, World, linker_ids, scenario, wire

BUDGET = 5  # aks-shop's plan alone wants 9 removals, aks-two's and aks-ledger's 3 each: one of those fits
WORKERS = 3


@pytest.fixture
def fresh_budgets(azurite, monkeypatch):
    """The app's storage account with its budget counters fresh (Azurite lives for the whole session)."""
    state = fresh_storage(azurite)
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    app_module.application.cache_clear()
    yield state
    fresh_storage(azurite)  # and leaves nothing for later tests of this session
    app_module.application.cache_clear()


def fresh_storage(azurite: str):
    """What earlier tests of this session left in Azurite (budget spends, the linker index and shared facts about
    other local clouds' clusters, queued sweeps and requeues) is gone."""
    blobs = BlobServiceClient.from_connection_string(azurite)
    for name in (INDEX_CONTAINER, STATE_CONTAINER):  # the linker index and shared facts name other clouds' clusters
        container = blobs.get_container_client(name)
        if container.exists():
            for blob in container.list_blobs():
                container.delete_blob(blob.name)
    state = blobs.get_container_client(STATE_CONTAINER)
    for queue in (SWEEP_QUEUE, RECONCILE_QUEUE):
        with contextlib.suppress(ResourceNotFoundError):
            QueueClient.from_connection_string(azurite, queue).clear_messages()
    return state


def removals_since(world: World, mark: int) -> set[tuple[str, str]]:
    """Each removal carried out once, whoever carried it out: a successful DELETE, or a PATCH of a workload."""
    writes = world.estate.writes_since(mark)
    deleted = {("DELETE", r["path"]) for r in writes if r["method"] == "DELETE"}
    return deleted | {("PATCH", r["path"]) for r in writes if r["method"] == "PATCH" and "/apis/apps/" in r["path"]}


def test_a_storm_over_several_workers_removes_at_most_the_hourly_budget(world: World, fresh_budgets, monkeypatch,
                                                                        tmp_path, caplog, capsys):  # fmt: skip
    state = fresh_budgets
    monkeypatch.setenv("SC_MAX_REMOVALS_PER_HOUR", str(BUDGET))
    world.estate.new_events()  # what the wiring itself caused is delivered already
    for target in (OPENAI, DATABASE, OAI_TWO, SQL_LEDGER):  # a policy remediation gone wrong strips sc-group
        world.estate.untag(target, "sc-group")
    events = world.estate.new_events()
    assert len(events) == 4
    mark = world.admin.mark()
    # every worker is handed every event (at-least-once delivery to scaled-out instances), in its own order
    workers = []
    for index in range(WORKERS):
        path = tmp_path / f"events{index}.json"
        path.write_text(json.dumps(events[index:] + events[:index]))
        workers.append(subprocess.Popen([sys.executable, "-m", "tests.faults.storm_worker", str(path)], cwd=ROOT,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))  # fmt: skip
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err[-2000:] for _, err in outputs]
    codes = [code for out, _ in outputs for code in json.loads(out.splitlines()[-1])["codes"]]
    assert "REMOVALS_HELD" in codes

    carried_out = removals_since(world, mark)
    assert 0 < len(carried_out) <= BUDGET, sorted(carried_out)
    spends = json.loads(state.get_blob_client(REMOVALS_BLOB).download_blob().readall())["spends"]
    assert sum(count for _, count in spends) <= BUDGET
    assert len(linker_ids(world.admin.state())) > 2, "the held removals are still there"

    # the operator reads the plan, then releases the rest explicitly; the release is logged
    assert main(["plan", "-o", "json"]) == 0
    assert "REMOVALS_HELD" in capsys.readouterr().out
    with caplog.at_level(logging.WARNING, logger="sc_autopilot"):
        assert main(["apply", "--max-removals", "20", "-o", "json"]) == 0
    assert any("removals released by the operator" in r.getMessage() for r in caplog.records)
    [left] = linker_ids(world.admin.state())  # only oai-ledger's, still tagged
    assert "/managedclusters/aks-ledger/" in left
    assert len(removals_since(world, mark)) > BUDGET


def test_a_fanned_out_sweep_deletes_and_validates_at_most_its_caps_in_the_whole_run(
    make_cloud, monkeypatch, fresh_budgets, azurite
):
    spec = scenario()
    for subscription in spec["subscriptions"]:
        for cluster in subscription["resource_groups"][0]["clusters"]:
            namespace = cluster["kubernetes"]["namespaces"][0]["name"] if cluster["name"] != "aks-shop" else "shop"
            cluster["kubernetes"]["objects"] = [expired(f"sc-old{i}-secret", namespace) for i in range(2)]
    world = wire(make_cloud(spec), monkeypatch)
    monkeypatch.setenv("SC_CLEANUP_MODE", "delete")
    monkeypatch.setenv("SC_MAX_DELETIONS_PER_RUN", "2")
    monkeypatch.setenv("SC_VALIDATE_BUDGET", "2")
    monkeypatch.setenv("SC_VALIDATE_EVERY_HOURS", "1")  # every connection is due: only the budget limits
    app_module.application.cache_clear()
    indexed_functions()["sweep_timer"].get_user_function()(TimerRequest(past_due=False))
    messages = drain(azurite, SWEEP_QUEUE)
    assert len(messages) == 3
    mark = world.admin.mark()
    sweep_cluster = indexed_functions()["sweep_cluster"].get_user_function()
    with ThreadPoolExecutor(len(messages)) as pool:  # the invocations of one run, at once
        list(pool.map(sweep_cluster, messages))
    writes = world.estate.writes_since(mark)
    deleted = [r for r in writes if r["method"] == "DELETE" and "/secrets/sc-old" in r["path"]]
    assert len(deleted) == 2, [r["path"] for r in deleted]  # not 2 per cluster: 2 in the whole run
    validations = [r for r in world.admin.requests_since(mark) if r["path"].endswith("/validateLinker")]
    assert len(validations) == 2  # the run's budget, not a slice per cluster (at least 1 each was 3)
    report = SweepStore.from_settings(StorageSettings.from_env())
    run = json.loads(messages[0].get_body())["run"]
    reports = report.container.list_blobs(name_starts_with="reports/")
    [path] = [b.name for b in reports if b.name.endswith(f"{run}.json")]
    states = [o["state"] for o in report.report(path)["orphans"]]
    for blob in [b.name for b in report.container.list_blobs() if run in b.name]:  # Azurite outlives this test
        report.container.delete_blob(blob)
    assert sorted(states) == ["capped"] * 4 + ["deleted"] * 2


def expired(name: str, namespace: str) -> dict:
    """A Service Connector secret nothing references, marked orphaned long ago: due for deletion."""
    return {"apiVersion": "v1", "kind": "Secret", "data": {}, "metadata": {
        "name": name, "namespace": namespace, "annotations": {ORPHANED_SINCE: "2020-01-01T00:00:00Z"}}}  # fmt: skip


def test_each_cap_of_a_fanned_out_sweep_is_the_whole_runs_across_instances(fresh_budgets, azurite, monkeypatch):
    """Three instances sweeping clusters of one fanned-out run spend one orphan cap, one validate budget and one
    rollout cap between them (Azurite, ETags), not one each; another run starts afresh."""
    monkeypatch.setenv("SC_SUBSCRIPTIONS", SUB)
    monkeypatch.setenv("SC_MAX_DELETIONS_PER_RUN", "2")
    monkeypatch.setenv("SC_VALIDATE_BUDGET", "4")
    monkeypatch.setenv("SC_MAX_ROLLOUTS_PER_RUN", "3")
    settings = Settings.from_env()
    counters = BlobCounters(BlobServiceClient.from_connection_string(azurite))
    instances = [Runs(settings, counters=counters) for _ in range(3)]
    runs = [instance.new(Estate((), ()), sweep_run="run-1") for instance in instances for _ in range(2)]
    with ThreadPoolExecutor(len(runs)) as pool:  # six invocations at once, each wanting more than the caps
        granted = list(pool.map(lambda run: (run.deletions.take(2), run.validations.take(3), run.rollouts.take(2)),
                                runs))  # fmt: skip
    assert [sum(g[i] for g in granted) for i in range(3)] == [2, 4, 3]
    fresh = instances[0].new(Estate((), ()), sweep_run="run-2")
    assert (fresh.deletions.take(5), fresh.validations.take(5), fresh.rollouts.take(5)) == (2, 4, 3)
