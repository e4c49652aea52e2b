"""`make bench` in miniature (seconds): the harness measures what it claims, against a real local cloud."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import floor_seconds, main, summarize
from bench.driver import sequential_round_trips


def test_the_floor_is_the_slowest_bucket():
    assert floor_seconds({"arm_reads": 250, "arm_writes": 200}) == 0
    assert floor_seconds({"arm_reads": 1250, "arm_writes": 300}) == pytest.approx(40)  # (1250 - 250) / 25
    assert floor_seconds({"arm_reads": 300, "arm_writes": 700}) == pytest.approx(50)  # (700 - 200) / 10


def test_sequential_round_trips_count_parallel_calls_once():
    def call(start: float, ms: float) -> dict:
        return {"time": f"2026-11-23T10:00:{start:06.3f}+00:00", "elapsed_ms": ms}

    parallel = [call(0.0, 100), call(0.01, 100), call(0.02, 100)]
    assert sequential_round_trips(parallel) == 1
    assert sequential_round_trips([*parallel, call(0.2, 10), call(0.3, 10)]) == 3


def test_summary_speedup_uses_the_baseline_or_extrapolates_it():
    def row(n, phase, conc, wall):
        return {"clusters": n, "phase": phase, "concurrency": conc, "run": 0, "wall_s": wall, "arm_reads": 3 * n,
                "arm_writes": 0, "arm_deletes": 0, "arm_put_patch": 0, "arm_posts": 0, "throttled_429": 0,
                "server_errors": 0, "peak_rss_mb": 80}  # fmt: skip

    rows = summarize([row(10, "sweep", 1, 20.0), row(10, "sweep", 16, 2.0), row(40, "sweep", 16, 4.0)], 16)
    by = {(r["clusters"], r["concurrency"]): r for r in rows}
    assert by[(10, 16)]["speedup"] == 10.0 and by[(10, 16)]["baseline_extrapolated"] is None
    assert by[(40, 16)]["baseline_extrapolated"] == 80.0 and by[(40, 16)]["speedup"] == 20.0


def test_smoke_run_measures_a_compliant_sweep_with_zero_writes(tmp_path):
    output = tmp_path / "bench.json"
    assert main(["--sizes", "2", "--storm-sizes", "2", "--storm-workers", "2", "--runs", "1", "--baseline-max", "0",
                 "--arm-ms", "0", "--kube-ms", "0", "--output", str(output)]) == 0  # fmt: skip
    document = json.loads(output.read_text())
    rows = {row["phase"]: row for row in document["summary"]}
    assert set(rows) == {"cold", "sweep", "event", "storm", "batch"} and all(row["ok"] for row in rows.values())
    # two instances, one event each, warm: the issue 23 budget (3 ARM reads, no write-bucket call per event)
    assert rows["storm"]["events"] == 2 and rows["storm"]["reads_per_event"] <= 3
    assert rows["storm"]["write_bucket_per_event"] == 0 and rows["storm"]["throttled_429"] == 0
    assert rows["cold"]["arm_put_patch"] == 2 * 3  # one linker per target, three targets per cluster
    assert rows["sweep"]["arm_put_patch"] == rows["sweep"]["arm_deletes"] == 0
    assert rows["sweep"]["compliant"] == 2 * 3 and rows["sweep"]["changes"] == 0
    assert rows["event"]["round_trips"] >= 3  # listing, then the cluster's reads, then the patch
    assert document["machine"]["cores"] and output.with_suffix(".md").read_text().count("\n|") >= 4
