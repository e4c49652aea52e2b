"""An event reconcile and a sweep racing on the same cluster (two Function invocations, separate processes' worth of
state: separate Application instances), with Kubernetes latency so that they interleave. Writes are guarded
(resourceVersion tests on patches, uid and resourceVersion preconditions on deletes), so the loser of each race
re-reads instead of failing or writing twice; whatever one of them leaves (a connection it saw still provisioning)
the next run does.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from tests.faults.conftest import (
    assert_converged,
    assert_only_ours_deleted,
    assert_references_resolve,
    connect_everything,
    disconnect_everything,
    new_app,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CONFLICT_SIGNS = ("kept changing", "answered 409", "answered 422", "Conflict")


def race(events: list[dict]) -> dict:
    """handle_events and a sweep started together on separate Application instances; what each returned, and when."""
    event_app, sweep_app = new_app(), new_app()
    runs = {"event": lambda: event_app.events.handle(events), "sweep": lambda: sweep_app.sweeper.run(now=NOW)}
    start = threading.Barrier(len(runs))
    results: dict = {}

    def run(name: str) -> None:
        start.wait()
        began = time.monotonic()
        try:
            results[name] = (runs[name](), began, time.monotonic())
        except BaseException as error:  # reported by the test with the other side's outcome
            results[name] = (error, began, time.monotonic())

    threads = [threading.Thread(target=run, args=(name,), name=f"race-{name}") for name in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(results) == set(runs), "a racer hung"
    errors = {name: value for name, (value, _, _) in results.items() if isinstance(value, BaseException)}
    assert not errors, errors
    (_, event_began, event_ended), (_, sweep_began, sweep_ended) = results["event"], results["sweep"]
    assert event_began < sweep_ended and sweep_began < event_ended, "the two runs did not overlap"
    return {name: value for name, (value, _, _) in results.items()}


def conflict_failures(results: dict) -> list[str]:
    event, sweep = results["event"], results["sweep"]
    details = [f"{o.action.describe()}: {o.detail}" for run in event.runs for o in run.failed]
    findings = [f for c in sweep.clusters for f in c.findings if f.code.startswith(("ARM_", "KUBE_"))]
    details += [f"sweep: {f.code}: {f.message}" for f in findings]
    return [d for d in details if any(sign in d for sign in CONFLICT_SIGNS)]


def test_an_event_and_a_sweep_racing_on_one_cluster_converge(estate, app, admin):
    admin.post("latency", {"kube_ms": 20})
    mark = admin.mark()
    events = connect_everything(estate)
    connected = race(events)
    assert conflict_failures(connected) == []
    assert_references_resolve(estate)

    removed = race(disconnect_everything(estate))
    assert conflict_failures(removed) == []
    assert_references_resolve(estate)
    assert_only_ours_deleted(admin, mark)
    # They really raced: a guarded patch lost to the other's write at least once (and was redone from a re-read).
    lost = [r for r in admin.requests_since(mark) if r["method"] == "PATCH" and r["status"] in (409, 422)]
    assert lost, "no write conflict happened: the runs did not interleave"

    admin.post("latency", {"kube_ms": 0})
    app.events.handle(events)  # the next delivery or sweep finishes whatever a racer deferred
    assert_converged(estate, app, admin, connected=False)


def test_racing_connects_wire_each_workload_exactly_once(estate, app, admin):
    admin.post("latency", {"kube_ms": 20})
    events = connect_everything(estate)
    results = race(events)
    assert conflict_failures(results) == []
    assert_references_resolve(estate)
    admin.post("latency", {"kube_ms": 0})
    redelivered = app.events.handle(events)
    assert redelivered.ok and not redelivered.deferred, redelivered.summary()
    assert_converged(estate, app, admin)  # one envFrom entry per workload, the plan empty
