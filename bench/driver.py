"""One measured worker: `python -m bench.driver --phases cold,sweep,event` against a running local cloud.

It is the Functions host's process in miniature: one Application, warm across phases, exactly the production
code path. Before each phase the ARM token buckets are refilled, so every phase starts from the documented burst
and its floor is max(0, R - 250) / 25 s. Prints one JSON line: per phase, wall time, calls by service and method
(from the cloud's own request log), 429s, retries and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from azure.mgmt.resource.resources import ResourceManagementClient

from bench import scenario
from bench.profiling import profiled
from emulator.client import AdminClient, PersonCredential
from shared.container import Application, application
from shared.core.verdicts import Status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.driver")
    parser.add_argument("--phases", default="cold,sweep,event")
    args = parser.parse_args(argv)
    admin = AdminClient(os.environ["SC_ARM_ENDPOINT"], os.environ["REQUESTS_CA_BUNDLE"])
    app = application()  # as the Functions host builds it: with the app's storage (index, shared facts)
    phases = {"cold": _cold, "sweep": _sweep, "event": _event}
    results = {name: _measure(admin, name, lambda run=phases[name]: run(app, admin)) for name in args.phases.split(",")}
    print(json.dumps(results))
    return 0


def _measure(admin: AdminClient, name: str, run: Callable[[], dict]) -> dict:
    admin.post("throttling", {"enabled": True, "reset": True})
    mark = admin.mark()
    started = time.perf_counter()
    with profiled(name):
        outcome = run()
    wall = time.perf_counter() - started
    log = admin.requests_since(mark)
    return {"wall_s": round(wall, 3), **outcome, **calls(log), "peak_rss_mb": _peak_rss_mb()}


def _cold(app: Application, admin: AdminClient) -> dict:
    report = app.applier.apply()
    return {"ok": report.ok, "changes": len(report.applied), "deferred": len(report.deferred)}


def _sweep(app: Application, admin: AdminClient) -> dict:
    result = app.sweeper.run()
    verdicts = Counter(v.status.value for c in result.clusters for v in c.verdicts)
    changes = sum(len(c.changes) for c in result.clusters)
    return {"verdicts": dict(verdicts), "changes": changes, "compliant": verdicts[Status.COMPLIANT.value]}


def _event(app: Application, admin: AdminClient) -> dict:
    """A platform engineer adds a workload to one target's tag; time the event from arrival to the patch."""
    arm = ResourceManagementClient(
        PersonCredential(admin, scenario.OPERATOR), scenario.SUBSCRIPTION, base_url=os.environ["SC_ARM_ENDPOINT"],
        credential_scopes=["https://management.azure.com/.default"], polling_interval=0,
    )  # fmt: skip
    cursor = len(admin.get("events")["events"])
    target = scenario.openai_id(0)
    body = {"operation": "Merge", "properties": {"tags": {"sc-workloads": "deploy/w5,deploy/w6,deploy/w1"}}}
    arm.tags.begin_update_at_scope(target, body).result()
    events = admin.get("events", since=cursor)["events"]
    admin.post("throttling", {"enabled": True, "reset": True})
    mark = admin.mark()
    started = time.perf_counter()
    report = app.events.handle(events)
    latency = time.perf_counter() - started
    log = admin.requests_since(mark)
    wired = any("w1" in line for line in report.applied)
    return {"event_latency_s": round(latency, 3), "round_trips": sequential_round_trips(log), "event_calls": len(log),
            "workload_patched": wired}  # fmt: skip


def sequential_round_trips(log: list[dict]) -> int:
    """The longest chain of calls each starting after the previous one ended: the round trips an event waits
    for in sequence (calls made in parallel count once)."""
    spans = sorted(
        (start := datetime.fromisoformat(r["time"]).timestamp(), start + r.get("elapsed_ms", 0) / 1000) for r in log
    )
    chain: list[int] = []
    for i, (start, _) in enumerate(spans):
        chain.append(1 + max((chain[j] for j in range(i) if spans[j][1] <= start), default=0))
    return max(chain, default=0)


def calls(log: list[dict]) -> dict:
    arm = Counter(r["method"] for r in log if r["service"] == "arm")
    kube = Counter(r["method"] for r in log if r["service"] == "kube")
    return {
        "arm": dict(arm),
        "arm_reads": arm["GET"] + arm["HEAD"],
        "arm_writes": sum(n for method, n in arm.items() if method not in ("GET", "HEAD", "DELETE")),  # the bucket
        "arm_put_patch": arm["PUT"] + arm["PATCH"],
        "arm_posts": arm["POST"],  # actions (validate, listConfigurations, credentials) count as writes in ARM
        "arm_deletes": arm["DELETE"],
        "kube": dict(kube),
        "keyvault": sum(1 for r in log if r["service"] == "keyvault"),
        "throttled_429": sum(1 for r in log if r["status"] == 429),
        "server_errors": sum(1 for r in log if r["status"] >= 500 or r["status"] == 0),
        "calls": len(log),
    }


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    sys.exit(main())
