"""A process killed between the linker PUT and the workload patch (a Functions worker recycled, a node lost) leaves
connections made and workloads not wired yet; the next run (Event Grid's redelivery) finishes the job, once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.e2e.conftest import env_from_secrets
from tests.faults.conftest import (
    assert_converged,
    assert_only_ours_deleted,
    clear_faults,
    connect_everything,
    fault,
    fault_hits,
    inject,
    new_app,
    wait_for_request,
)

WORKLOAD_PATCH = r"/namespaces/shop/(deployments|statefulsets|cronjobs)/[a-z-]+$"
HELD_MS = 3000  # the server holds the first workload patch this long, then applies it if its guard still holds


def test_a_process_killed_between_the_linker_put_and_the_workload_patch_converges(estate, admin, tmp_path):
    events = connect_everything(estate)
    payload = tmp_path / "events.json"
    payload.write_text(json.dumps(events))
    mark = admin.mark()
    inject(admin, fault("delay", "kube", "PATCH", WORKLOAD_PATCH, delay_ms=HELD_MS, times=None))
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "handle-event", str(payload)],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"the CLI ended before it was killed:\n{process.stdout.read().decode()}"
            assert time.monotonic() < deadline, "the CLI never reached the workload patch"
            linkers_put = [
                r for r in admin.requests_since(mark)
                if r["method"] == "PUT" and "/linkers/scap_" in r["path"] and r["status"] < 300
            ]  # fmt: skip
            [held] = [f["hits"] for f in fault_hits(admin)]
            if len(linkers_put) == 2 and held:  # both connections made; the first patch is in flight
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    # What the kill left: both connections exist, with their secrets; no workload patch has been applied yet.
    assert sorted(lk["properties"]["provisioningState"] for lk in estate.linkers()) == ["Succeeded", "Succeeded"]
    # (the only Kubernetes writes so far: the Key Vault version each secret-auth put recorded on its secret)
    patches = [r for r in admin.requests_since(mark) if r["method"] == "PATCH" and r["service"] == "kube"]
    assert [r for r in patches if "/secrets/" not in r["path"]] == []
    assert env_from_secrets(estate.workload("Deployment", "api")) == []
    clear_faults(admin)

    app = new_app()
    report = app.events.handle(events)  # Event Grid redelivers: the invocation never completed
    assert report.ok and not report.deferred, report.summary()
    # The killed process's patch reaches the server late: its resourceVersion guard must keep it from wiring twice.
    late = wait_for_request(admin, mark, lambda r: r.get("fault") == "delay", timeout=HELD_MS / 1000 + 10)
    assert re.search(WORKLOAD_PATCH, late["path"])
    rerun = [
        r for r in admin.requests_since(mark)
        if r["path"] == late["path"] and r["method"] == "PATCH" and r["status"] == 200 and r["seq"] < late["seq"]
    ]  # fmt: skip
    if rerun:  # the redelivery patched that workload before the late patch was applied: the late one is stale
        assert late["status"] in (409, 422), f"a stale patch was applied: {late}"
    assert_converged(estate, app, admin)
    assert_only_ours_deleted(admin, mark)
