"""The storm phase: N targets re-tagged at once, their events handled one per invocation by several worker
processes (a scaled-out Functions app), then the same amount of work handled as one batch by one process.

`python -m bench.storm worker` is one instance: it builds the app as the Functions host does (shared.container,
with the app's storage: Azurite), handles one warm-up event, prints `ready`, then reads its share of the events
(sent once every instance is warm) from stdin, handles them one `handle_events` call (invocation) each, as many
at once as the Python worker's thread pool runs (invocation_threads), and prints one JSON line. `run_storm`
drives the instances and measures, from the cloud's own request log, ARM reads and write-bucket calls per event
and the 429s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.mgmt.resource.resources import ResourceManagementClient

from bench import scenario
from bench.profiling import profiled
from emulator.client import AdminClient, PersonCredential

ROOT = Path(__file__).resolve().parent.parent
STORM_WORKLOADS = "deploy/w5,deploy/w6,deploy/w2"  # each re-tag wires one more workload: a kube patch, no ARM write
BATCH_WORKLOADS = "deploy/w5,deploy/w6,deploy/w2,deploy/w3"  # the same amount of work again, for the batch


def retag(admin: AdminClient, env: dict, targets: list[str], workloads: str) -> list[dict]:
    """An operator re-tags every target (ARM tag writes as the operator); the Event Grid events they caused."""
    arm = ResourceManagementClient(
        PersonCredential(admin, scenario.OPERATOR), scenario.SUBSCRIPTION, base_url=env["SC_ARM_ENDPOINT"],
        credential_scopes=["https://management.azure.com/.default"], polling_interval=0,
        connection_verify=env["REQUESTS_CA_BUNDLE"],
    )  # fmt: skip
    cursor = len(admin.get("events")["events"])
    for target in targets:
        body = {"operation": "Merge", "properties": {"tags": {"sc-workloads": workloads}}}
        arm.tags.begin_update_at_scope(target, body).result()
    return admin.get("events", since=cursor)["events"]


def run_storm(admin: AdminClient, size: int, workers: int, env: dict, calls, cloud_pid: int) -> dict:
    """`calls(log)` summarises a request log (bench.driver._calls). Returns the storm's and the batch's figures, with
    the CPU seconds the instances and the local cloud (`cloud_pid`) spent on each: on a shared machine they say
    whether a phase was held by CPU or by waiting."""
    targets = [scenario.openai_id(i) for i in range(size)]
    warmups = [scenario.sql_id(i) for i in range(workers)]
    warm_events = retag(admin, env, warmups, "deploy/w1,deploy/w2")  # unchanged tags: an event with nothing to do
    processes = []
    for index in range(workers):
        path = Path(env["SC_BENCH_WORKDIR"], f"storm-{index}.json")
        path.write_text(json.dumps({"warmup": warm_events[index % len(warm_events)]}))
        command = [sys.executable, "-m", "bench.storm", "worker", str(path)]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        # The batch rolls a consumer per target: its run may roll them all, as the storm's one-per-run runs do (with
        # the default cap of 50 the batch deferred half its work to a later run and looked twice as fast).
        instance_env = env | {"SC_MAX_ROLLOUTS_PER_RUN": str(size)}
        processes.append(subprocess.Popen(command, env=instance_env, cwd=ROOT, text=True, **pipes))
    try:
        for process in processes:
            _expect(process, "ready")
        storm_events = retag(admin, env, targets, STORM_WORKLOADS)  # once every instance is warm
        admin.post("throttling", {"enabled": True, "reset": True})
        mark = admin.mark()
        cpu = _cpu([p.pid for p in processes], cloud_pid)
        started = time.perf_counter()
        for index, process in enumerate(processes):
            process.stdin.write(json.dumps({"events": storm_events[index::workers]}) + "\n")
            process.stdin.flush()
        outputs = [json.loads(_expect(process, "{")) for process in processes]
        storm_wall = time.perf_counter() - started
        storm_cpu = _cpu_since(cpu, [p.pid for p in processes], cloud_pid)
        storm_log = admin.requests_since(mark)
        # the batch: the same work again (one more workload per target), every event in one invocation
        batch_events = retag(admin, env, targets, BATCH_WORKLOADS)
        admin.post("throttling", {"enabled": True, "reset": True})
        mark = admin.mark()
        cpu = _cpu([processes[0].pid], cloud_pid)
        processes[0].stdin.write(json.dumps({"batch": batch_events}) + "\n")
        processes[0].stdin.flush()
        batch = json.loads(_expect(processes[0], "{"))
        batch_cpu = _cpu_since(cpu, [processes[0].pid], cloud_pid)
        batch_log = admin.requests_since(mark)
    finally:
        for process in processes:
            if process.stdin:
                process.stdin.close()
            process.wait(timeout=60)
    latencies = sorted(latency for out in outputs for latency in out["latencies"])
    storm = {"wall_s": round(storm_wall, 3), "events": len(storm_events), "workers": workers,
             "ok": all(out["ok"] for out in outputs) and len(storm_events) == size,
             "problems": [p for out in outputs for p in out["problems"]][:5],
             "event_p50_s": latencies[len(latencies) // 2] if latencies else None,
             "event_max_s": latencies[-1] if latencies else None, **storm_cpu, **calls(storm_log)}  # fmt: skip
    batch_figures = {"wall_s": batch["wall_s"], "events": len(batch_events), "workers": 1,
                     "ok": batch["ok"] and len(batch_events) == size, "problems": batch["problems"],
                     **batch_cpu, **calls(batch_log)}  # fmt: skip
    return {"storm": per_event(storm), "batch": per_event(batch_figures)}


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(instances: list[int], cloud_pid: int) -> dict:
    return {"app_cpu_s": sum(cpu_seconds(pid) for pid in instances), "cloud_cpu_s": cpu_seconds(cloud_pid)}


def _cpu_since(before: dict, instances: list[int], cloud_pid: int) -> dict:
    return {key: round(value - before[key], 2) for key, value in _cpu(instances, cloud_pid).items()}


def per_event(figures: dict) -> dict:
    events = max(1, figures["events"])
    arm_calls = figures["arm_reads"] + figures["arm_writes"] + figures["arm_deletes"]
    return figures | {
        "reads_per_event": round(figures["arm_reads"] / events, 2),
        "write_bucket_per_event": round(figures["arm_writes"] / events, 3),
        "throttled_share": round(figures["throttled_429"] / arm_calls, 4) if arm_calls else 0.0,
    }


def _expect(process: subprocess.Popen, prefix: str) -> str:
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"a storm worker exited early (rc {process.wait()}): run it alone to see why")
        if line.startswith(prefix):
            return line


def worker(path: str) -> int:
    """One instance: warm (one event), then its share of the storm one event per invocation, then maybe a batch."""
    from shared.container import application

    payload = json.loads(Path(path).read_text())
    app = application()
    app.events.handle([payload["warmup"]])
    print("ready", flush=True)
    line = sys.stdin.readline()
    if not line.strip():
        return 1

    def invocation(event: dict) -> tuple[float, str | None]:
        started = time.perf_counter()
        report = app.events.handle([event])
        return round(time.perf_counter() - started, 3), None if report.ok and report.applied else report.summary()[:500]

    with profiled(f"storm-{Path(path).stem}"), ThreadPoolExecutor(invocation_threads()) as pool:
        outcomes = list(pool.map(invocation, json.loads(line)["events"]))
    latencies = [latency for latency, _ in outcomes]
    problems = [problem for _, problem in outcomes if problem]
    print(json.dumps({"latencies": latencies, "ok": not problems, "problems": problems}), flush=True)
    line = sys.stdin.readline()
    if line.strip():
        events = json.loads(line)["batch"]
        started = time.perf_counter()
        with profiled("batch"):
            report = app.events.handle(events)
        wall = round(time.perf_counter() - started, 3)
        ok = report.ok and len(report.applied) >= len(events)
        print(json.dumps({"wall_s": wall, "ok": ok, "problems": [] if ok else [report.summary()[:1000]]}), flush=True)
    return 0


def invocation_threads() -> int:
    """How many invocations one instance runs at once: the Python worker runs synchronous functions in a thread
    pool of PYTHON_THREADPOOL_THREAD_COUNT threads, by default min(32, CPUs + 4) (Learn:
    python-scale-performance-reference), so a storm instance does too."""
    configured = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    return int(configured) if configured else min(32, (os.cpu_count() or 1) + 4)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        sys.exit(worker(sys.argv[2]))
    sys.exit("usage: python -m bench.storm worker <payload.json> (started by `python -m bench`)")
