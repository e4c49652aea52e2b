"""The removal budget is the Function App's, not an invocation's (issue 20): an un-tagging storm delivered to several
worker processes at once carries out at most SC_MAX_REMOVALS_PER_HOUR removals in all, counted in the app's storage
account (Azurite) with ETags; the rest is held (REMOVALS_HELD) until an operator releases it with
`sc-autopilot apply --max-removals N`, which is logged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from azure.storage.blob import BlobServiceClient

from shared.adapters.budgets import REMOVALS_BLOB, STATE_CONTAINER
from shared.cli import main
from tests.conftest import DATABASE, OPENAI, ROOT
from tests.faults.world import OAI_TWO, SQL_LEDGER, World, linker_ids

BUDGET = 5  # aks-shop's plan alone wants 9 removals, aks-two's and aks-ledger's 3 each: one of those fits
WORKERS = 3


def removals_since(world: World, mark: int) -> set[tuple[str, str]]:
    """Each removal carried out once, whoever carried it out: a successful DELETE, or a PATCH of a workload."""
    writes = world.estate.writes_since(mark)
    deleted = {("DELETE", r["path"]) for r in writes if r["method"] == "DELETE"}
    return deleted | {("PATCH", r["path"]) for r in writes if r["method"] == "PATCH" and "/apis/apps/" in r["path"]}


def test_a_storm_over_several_workers_removes_at_most_the_hourly_budget(world: World, azurite, monkeypatch, tmp_path,
                                                                        caplog, capsys):  # fmt: skip
    state = BlobServiceClient.from_connection_string(azurite).get_container_client(STATE_CONTAINER)
    if state.exists():
        for blob in state.list_blobs():
            state.delete_blob(blob.name)
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
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
