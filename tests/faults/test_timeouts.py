"""A server that hangs: every ARM, Key Vault and Kubernetes request gives up after SC_HTTP_TIMEOUT_SECONDS and is
handled like any transient failure (retried, or a failed action that the next run redoes), instead of holding the
run for the transport's default of minutes. The hung request still completes on the server later, as it would.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest

from tests.faults.conftest import (
    assert_converged,
    assert_every_fault_hit,
    assert_only_ours_deleted,
    assert_references_resolve,
    attempt,
    clear_faults,
    connect_everything,
    fault,
    inject,
    new_app,
    wait_for_request,
)

TIMEOUT_SECONDS = 2
DELAY_MS = 4000  # the server answers after this; the client must have given up (and retried) before


@pytest.fixture
def short_timeout(monkeypatch, cloud):
    monkeypatch.setenv("SC_HTTP_TIMEOUT_SECONDS", str(TIMEOUT_SECONDS))
    app = new_app()
    assert app.settings.http_timeout_seconds == TIMEOUT_SECONDS
    return app


def _window(entry: dict) -> tuple[datetime, datetime]:
    started = datetime.fromisoformat(entry["time"])
    return started, started + timedelta(milliseconds=entry["elapsed_ms"])


def hung_requests(admin, mark: int, expected: int) -> list[dict]:
    """The requests the delay faults held, once all of them have completed on the server."""
    deadline = time.monotonic() + DELAY_MS / 1000 + 10
    while time.monotonic() < deadline:
        hung = [r for r in admin.requests_since(mark) if r.get("fault") == "delay"]
        if len(hung) >= expected:
            return hung
        time.sleep(0.1)
    raise AssertionError(f"only {len(hung)} of {expected} delayed requests completed")


def assert_given_up_and_resent(admin, mark: int, hung: list[dict]) -> None:
    """The client sent each hung request again while the server was still holding the first one: it timed out."""
    log = admin.requests_since(mark)
    for entry in hung:
        started, answered = _window(entry)
        resent = [
            r for r in log
            if r is not entry and r["method"] == entry["method"] and r["path"] == entry["path"]
            and started < datetime.fromisoformat(r["time"]) < answered
        ]  # fmt: skip
        assert resent, f"{entry['service']} {entry['method']} {entry['path']} was waited for, not timed out"


def wait_until_linkers_settle(estate, timeout: float = 10.0) -> None:
    """A PUT the client abandoned still runs on the server (ARM finishes it whether or not anyone polls)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(lk["properties"]["provisioningState"] in ("Succeeded", "Failed") for lk in estate.linkers()):
            return
        time.sleep(0.1)
    raise AssertionError(f"linkers still provisioning: {estate.linkers()}")


def test_hung_arm_and_key_vault_calls_time_out_and_are_retried(short_timeout, estate, admin):
    app = short_timeout
    events = connect_everything(estate)
    mark = admin.mark()
    hanging = [
        ("arm", "GET", r"^/subscriptions/[^/]+/resources$"),  # the tagged-resources listing
        ("arm", "PUT", r"/providers/Microsoft\.ServiceLinker/linkers/scap_[^/]+$"),  # the linker PUT (an LRO)
        ("keyvault", "GET", r"^/secrets/sql-orders-password"),  # the SQL password
    ]
    inject(admin, *[fault("delay", service, method, path, delay_ms=DELAY_MS) for service, method, path in hanging])
    first = attempt(lambda: app.events.handle(events), may_raise=())
    assert first.report.ok, first.report.summary()  # each timed-out call was retried within the run
    assert_every_fault_hit(admin)
    hung = hung_requests(admin, mark, expected=len(hanging))
    assert_given_up_and_resent(admin, mark, hung)
    clear_faults(admin)
    wait_until_linkers_settle(estate)
    # The abandoned PUT landed late and ran again: a run that saw it provisioning deferred that connection's
    # wiring (the function raises, Event Grid redelivers); the redelivery does it.
    redelivered = app.events.handle(events)
    assert redelivered.ok and not redelivered.deferred, redelivered.summary()
    assert_converged(estate, app, admin)
    assert_only_ours_deleted(admin, mark)


def test_hung_kubernetes_calls_time_out(short_timeout, estate, admin):
    """A hung list and a hung workload patch are both given up and resent within the run: the patch is safe to
    resend because it is guarded by resourceVersion, so whichever copy lands second is rejected and the workload
    ends up wired exactly once."""
    app = short_timeout
    events = connect_everything(estate)
    mark = admin.mark()
    patch = r"/apis/apps/v1/namespaces/shop/deployments/api$"
    inject(admin, fault("delay", "kube", "GET", r"/apis/apps/v1/deployments$", delay_ms=DELAY_MS),
           fault("delay", "kube", "PATCH", patch, delay_ms=DELAY_MS))  # fmt: skip
    first = attempt(lambda: app.events.handle(events), may_raise=())
    assert first.seconds < 2 * DELAY_MS / 1000, f"the run waited for the hung calls ({first.seconds:.1f} s)"
    assert first.report.ok, first.report.summary()
    assert_every_fault_hit(admin)
    assert_given_up_and_resent(admin, mark, hung_requests(admin, mark, expected=2))
    wait_for_request(admin, mark, lambda r: r["method"] == "PATCH" and re.search(patch, r["path"]) and "fault" in r)
    assert_references_resolve(estate)
    clear_faults(admin)
    app.events.handle(events)
    assert_converged(estate, app, admin)
    assert_only_ours_deleted(admin, mark)
