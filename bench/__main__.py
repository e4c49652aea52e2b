"""`make bench` / `python -m bench`: sc-autopilot against ARM's throttle floor on generated estates.

For each size N and each run: a fresh local cloud process with N clusters (bench/scenario.py), then a worker
process (bench/driver.py) at the configured concurrency doing cold apply -> steady sweep -> one event, and a
second fresh cloud + worker at concurrency 1 (the sequential baseline a script calling the CLI would be).
Medians over the runs go to a table and, with every raw figure and the machine, to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import scenario, storm
from bench.azurite import azurite
from bench.driver import calls as driver_calls
from emulator.client import AdminClient

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# FACTS.md section 7: ARM token buckets per subscription and principal (burst, refill per second)
BUCKETS = {"arm_reads": (250, 25), "arm_writes": (200, 10), "arm_deletes": (200, 10)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="30,100,200,1000", help="cluster counts, comma separated")
    parser.add_argument("--storm-sizes", default="30,100", help="sizes that also run the storm phase")
    parser.add_argument("--storm-workers", type=int, default=8, help="worker processes (instances) in a storm")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the table quotes medians")
    parser.add_argument("--baseline-runs", type=int, default=1, help="runs of the sequential baseline per size")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=200,
        help="largest N the sequential baseline is run at; above, it is extrapolated per cluster",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--arm-ms", type=int, default=30)
    parser.add_argument("--kube-ms", type=int, default=5)
    parser.add_argument("--output", type=Path, help="JSON results file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)
    console = Console(width=200)
    raw: list[dict] = []
    storm_sizes = {int(s) for s in args.storm_sizes.split(",") if s}
    for size in [int(s) for s in args.sizes.split(",")]:
        for concurrency, runs, phases in (
            (args.concurrency, args.runs, "cold,sweep,event" + (",storm" if size in storm_sizes else "")),
            (1, args.baseline_runs if size <= args.baseline_max else 0, "cold,sweep"),
        ):
            for run in range(runs):
                console.log(f"N={size} concurrency={concurrency} run {run + 1}/{runs}")
                measured = _run(size, concurrency, phases, args.arm_ms, args.kube_ms, args.storm_workers)
                raw += [{"clusters": size, "concurrency": concurrency, "run": run, "phase": p, **m}
                        for p, m in measured.items()]  # fmt: skip
    rows = summarize(raw, args.concurrency)
    document = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": vars(args) | {"output": str(args.output or "")},
        "summary": rows,
        "raw": raw,
    }
    output = args.output or RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2))
    output.with_suffix(".md").write_text(markdown(rows, document["machine"]))
    console.print(table(rows, document["machine"]))
    console.print(f"figures: {output} (and {output.with_suffix('.md').name}: the table as Markdown)")
    return 0


def _run(size: int, concurrency: int, phases: str, arm_ms: int, kube_ms: int, storm_workers: int = 0) -> dict:
    """A fresh local cloud process with the generated estate and a fresh storage account (Azurite), one worker
    process against them, and for the storm phase `storm_workers` more (bench/storm.py)."""
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as workdir, azurite(workdir) as storage:
        spec_path, env_path = Path(workdir, "scenario.json"), Path(workdir, "cloud.env")
        spec_path.write_text(json.dumps(scenario.generate(size, arm_ms=arm_ms, kube_ms=kube_ms)))
        cloud = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--scenario", str(spec_path), "--env-file", str(env_path),
             "--workdir", workdir],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            if not cloud.stdout or not cloud.stdout.readline():
                raise RuntimeError("the local cloud did not start: run `python -m emulator serve` to see why")
            env = dict(os.environ)
            env.update(line.split("=", 1) for line in env_path.read_text().splitlines() if "=" in line)
            env |= {"SC_CONCURRENCY": str(concurrency), "AzureWebJobsStorage": storage, "SC_BENCH_WORKDIR": workdir}
            driver_phases = ",".join(p for p in phases.split(",") if p != "storm")
            worker = subprocess.run(
                [sys.executable, "-m", "bench.driver", "--phases", driver_phases],
                env=env, cwd=ROOT, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if worker.returncode != 0:
                raise RuntimeError(f"the bench worker failed:\n{worker.stderr[-3000:]}")
            measured = json.loads(worker.stdout.strip().splitlines()[-1])
            if "storm" in phases.split(","):
                admin = AdminClient(env["SC_ARM_ENDPOINT"], env["REQUESTS_CA_BUNDLE"])
                measured |= storm.run_storm(admin, size, storm_workers, env, driver_calls, cloud.pid)
            return measured
        finally:
            cloud.terminate()
            cloud.wait(timeout=30)


def floor_seconds(figures: dict) -> float:
    """The least time ARM's token buckets allow for these calls, whatever the parallelism."""
    return max(max(0, figures.get(kind, 0) - burst) / refill for kind, (burst, refill) in BUCKETS.items())


def summarize(raw: list[dict], concurrency: int) -> list[dict]:
    """Medians per (clusters, phase, concurrency), with the floor ratio and the speed-up over concurrency 1."""
    groups: dict[tuple, list[dict]] = {}
    for entry in raw:
        groups.setdefault((entry["clusters"], entry["phase"], entry["concurrency"]), []).append(entry)
    rows = []
    for (size, phase, workers), entries in sorted(groups.items()):
        numeric = {k for k, v in entries[0].items() if isinstance(v, int | float) and not isinstance(v, bool)}
        row = {k: statistics.median(e[k] for e in entries) for k in numeric - {"run", "clusters", "concurrency"}}
        row |= {"clusters": size, "phase": phase, "concurrency": workers, "runs": len(entries)}
        row["floor_s"] = round(floor_seconds(row), 2)
        row["floor_ratio"] = round(row["wall_s"] / row["floor_s"], 3) if row["floor_s"] >= 1 else None
        row["reads_per_connection"] = round(row["arm_reads"] / (size * scenario.TARGETS_PER_GROUP), 2)
        row["ok"] = all(e.get("ok", True) and e.get("workload_patched", True) for e in entries)
        rows.append(row)
    for row in rows:
        row["speedup"] = row["baseline_extrapolated"] = None
        if row["concurrency"] == 1:
            continue
        baselines = sorted((b for b in rows if b["phase"] == row["phase"] and b["concurrency"] == 1),
                           key=lambda b: b["clusters"])  # fmt: skip
        same = next((b for b in baselines if b["clusters"] == row["clusters"]), None)
        if same is not None:
            row["speedup"] = round(same["wall_s"] / row["wall_s"], 2)
        elif baselines:  # the sequential time grows linearly with N: scale the largest measured one
            largest = baselines[-1]
            estimate = largest["wall_s"] * row["clusters"] / largest["clusters"]
            row["speedup"], row["baseline_extrapolated"] = round(estimate / row["wall_s"], 2), round(estimate, 1)
    return rows


def table(rows: list[dict], machine_info: dict) -> Table:
    title = f"sc-autopilot bench on {machine_info['cpu']} x{machine_info['cores']}, Python {machine_info['python']}"
    result = Table(title=title)
    for column in COLUMNS:
        result.add_column(column, justify="left" if column == "phase" else "right")
    for row in rows:
        result.add_row(*cells(row))
    return result


COLUMNS = ("N", "phase", "conc", "wall s", "floor s", "wall/floor", "speed-up", "ARM GET", "ARM PUT", "ARM POST",
           "ARM DEL", "429s", "retries", "reads/conn", "reads/event", "write-bucket/event", "peak MB", "event s",
           "round trips", "CPU s app/cloud")  # fmt: skip


def cells(row: dict) -> list[str]:
    speedup = _maybe(row["speedup"], "{:.1f}x") + ("*" if row.get("baseline_extrapolated") else "")
    return [
        str(row["clusters"]), row["phase"], str(row["concurrency"]), f"{row['wall_s']:.1f}", f"{row['floor_s']:.1f}",
        _maybe(row["floor_ratio"], "{:.2f}"), speedup, str(int(row["arm_reads"])), str(int(row["arm_put_patch"])),
        str(int(row["arm_posts"])), str(int(row["arm_deletes"])), str(int(row["throttled_429"])),
        str(int(row["throttled_429"] + row["server_errors"])), f"{row['reads_per_connection']:.2f}",
        _maybe(row.get("reads_per_event"), "{:.2f}"), _maybe(row.get("write_bucket_per_event"), "{:.2f}"),
        _maybe(row.get("peak_rss_mb"), "{:.0f}"), _maybe(row.get("event_latency_s"), "{:.2f}"),
        _maybe(row.get("round_trips"), "{:.0f}"),
        "-" if row.get("app_cpu_s") is None else f"{row['app_cpu_s']:.1f}/{row['cloud_cpu_s']:.1f}",
    ]  # fmt: skip


def markdown(rows: list[dict], machine_info: dict) -> str:
    load = machine_info.get("load_average")
    lines = [f"Machine: {machine_info['cpu']}, {machine_info['cores']} cores, Python {machine_info['python']}, "
             f"{machine_info['os']}" + (f"; load average {load[0]} / {load[1]} / {load[2]} (1/5/15 min) at the end"
                                        if load else ""),
             "", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]  # fmt: skip
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    if any(row.get("baseline_extrapolated") for row in rows):
        lines += ["", "\\* speed-up over a sequential baseline extrapolated linearly from the largest N it ran at."]
    return "\n".join(lines) + "\n"


def _maybe(value: float | None, template: str) -> str:
    return "-" if value is None else template.format(value)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }  # a shared machine's timings depend on it


if __name__ == "__main__":
    sys.exit(main())
