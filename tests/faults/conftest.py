"""The fault suite: the app's real clients against the local cloud, with faults injected through its admin API.

Every test follows one pattern: tag as a user, inject faults, run an entry point (which may partially fail but
must not crash), clear the faults, run again (Event Grid redelivers the same events; the sweep runs again), and
check that the estate converged, that nothing was wired twice and that nothing which is not ours was deleted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from kubernetes.client.exceptions import ApiException

from shared.config import Settings
from shared.container import Application
from shared.core import naming
from shared.core.manifests import pod_spec, service_account_of
from shared.service.results import RunReport
from tests.conftest import CLUSTER, DATABASE, OPENAI, Admin
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS, Estate, env_from_secrets

# What a run may raise: a read that still fails after the client's retries propagates, so that the Functions host
# fails the invocation and Event Grid redelivers the event (functions/events.py). Anything else is a bug.
SERVICE_ERRORS = (HttpResponseError, ServiceRequestError, ServiceResponseError, ApiException)

# The only things sc-autopilot may ever delete: our linkers, Service Connector's secrets and service accounts.
OURS_TO_DELETE = (
    re.compile(r"/providers/Microsoft\.ServiceLinker/linkers/scap_[a-z0-9._]+$", re.IGNORECASE),
    re.compile(r"^/clusters/[^/]+/api/v1/namespaces/[^/]+/secrets/sc-[a-z0-9]+-secret$"),
    re.compile(r"^/clusters/[^/]+/api/v1/namespaces/[^/]+/serviceaccounts/sc-account-[0-9a-f-]+$"),
)

# (kind, container or None for all) per target when everything is connected (tests/e2e/conftest.py's tags)
SQL_WORKLOADS = (("Deployment", "api", None), ("StatefulSet", "worker", None))
OPENAI_WORKLOADS = (("Deployment", "web", "web"), ("CronJob", "report", None))


# -- faults ------------------------------------------------------------------------------------------------
def fault(kind: str, service: str, method: str, path: str, **extra: Any) -> dict:
    """A fault spec for POST /_emulator/faults (once unless `times` says otherwise)."""
    spec = {"kind": kind, "service": service, "method": method, "path": path, "times": 1, **extra}
    if kind == "throttle":
        spec.setdefault("retry_after", 1)
    return spec


# The transient faults every operation is put through: 429, 500, 503, a dropped connection. Retry-After is 0 here
# so that faults on many operations stay fast; that a Retry-After of 1 s is honoured is tested on its own.
TRANSIENT = {
    "429": {"kind": "throttle", "retry_after": 0},
    "500": {"kind": "status", "status": 500},
    "503": {"kind": "status", "status": 503, "retry_after": 0},
    "reset": {"kind": "reset"},
}


def inject(admin: Admin, *faults: dict) -> None:
    admin.post("faults", list(faults))


def clear_faults(admin: Admin) -> None:
    response = admin.session.delete(admin._url("faults"), timeout=30)
    response.raise_for_status()
    assert admin.get("faults")["faults"] == []


def fault_hits(admin: Admin) -> list[dict]:
    return admin.get("faults")["faults"]


def assert_every_fault_hit(admin: Admin) -> None:
    """Each injected fault was actually met: otherwise the operation it targets was never exercised."""
    missed = [f for f in fault_hits(admin) if f["hits"] < (f["times"] or 1)]
    assert not missed, f"faults never met (the operation did not happen or the path is wrong): {missed}"


# -- running the app ---------------------------------------------------------------------------------------
@dataclass
class Attempt:
    """One run of an entry point under faults: what it returned, or the service error it raised."""

    result: Any = None
    error: BaseException | None = None
    seconds: float = 0.0

    @property
    def report(self) -> RunReport | None:
        return self.result if isinstance(self.result, RunReport) else None


def attempt(run: Callable[[], Any], *, may_raise: tuple[type[BaseException], ...] = SERVICE_ERRORS) -> Attempt:
    """Run an entry point; a service error that survived the retries is allowed (and returned), anything else
    fails the test with its traceback."""
    started = time.monotonic()
    try:
        return Attempt(result=run(), seconds=time.monotonic() - started)
    except may_raise as error:
        return Attempt(error=error, seconds=time.monotonic() - started)


def new_app() -> Application:
    return Application(Settings.from_env())


# -- the estate ----------------------------------------------------------------------------------------------
def connect_everything(estate: Estate) -> list[dict]:
    """Tag the cluster, the SQL database and the OpenAI account as the platform team; the events they cause."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    return estate.new_events()


def disconnect_everything(estate: Estate) -> list[dict]:
    estate.untag(DATABASE, "sc-group")
    estate.untag(OPENAI, "sc-group")
    return estate.new_events()


def _linker_for(estate: Estate, target: str) -> dict | None:
    found = [lk for lk in estate.linkers() if lk["properties"]["targetService"]["id"].lower() == target.lower()]
    assert len(found) <= 1, f"more than one linker to {target}: {[lk['name'] for lk in found]}"
    return found[0] if found else None


def assert_wired(estate: Estate) -> None:
    """Both connections exist, succeeded, and every named workload carries its secret exactly once."""
    for target, workloads in ((DATABASE, SQL_WORKLOADS), (OPENAI, OPENAI_WORKLOADS)):
        linker = _linker_for(estate, target)
        assert linker is not None, f"no linker to {target}"
        assert linker["name"].startswith("scap_") and linker["properties"]["provisioningState"] == "Succeeded"
        secret = naming.secret_name(linker["name"])
        assert estate.secret(secret) is not None, f"secret {secret} missing"
        for kind, name, container in workloads:
            assert env_from_secrets(estate.workload(kind, name), container) == [secret], f"{kind}/{name} wiring"
    assert env_from_secrets(estate.workload("Deployment", "web"), "nginx") == []  # not named: untouched
    [oai] = [lk for lk in estate.linkers() if lk["properties"]["targetService"]["id"].lower() == OPENAI.lower()]
    account = naming.service_account_name(oai["properties"]["authInfo"]["clientId"])
    for kind, name, _ in OPENAI_WORKLOADS:
        assert service_account_of(estate.workload(kind, name)) == account, f"{kind}/{name} service account"


def assert_unwired(estate: Estate) -> None:
    """Every connection and every trace of it is gone, and the workloads carry no Service Connector secret."""
    assert estate.linkers() == []
    for kind, name, _ in SQL_WORKLOADS + OPENAI_WORKLOADS:
        workload = estate.workload(kind, name)
        assert env_from_secrets(workload) == [], f"{kind}/{name} still wired"
        assert not (service_account_of(workload) or "").startswith("sc-account-"), f"{kind}/{name} service account"
    objects = [o for o in _objects(estate) if o["metadata"].get("namespace") == "shop"]
    leftovers = [
        o["metadata"]["name"]
        for o in objects
        if (o["kind"] == "Secret" and naming.is_service_connector_secret(o["metadata"]["name"]))
        or (o["kind"] == "ServiceAccount" and o["metadata"]["name"].startswith("sc-account-"))
    ]
    assert leftovers == [], f"left behind: {leftovers}"


def assert_converged(estate: Estate, app: Application, admin: Admin, *, connected: bool = True) -> None:
    """Nothing is left to do (a plan with no actions, so no deferred work was lost), a full apply writes nothing,
    and the estate is exactly what the tags ask for."""
    plan = app.applier.plan()
    assert plan.ok and plan.runs, plan.summary()
    leftover = [line for run in plan.runs for p in run.plans for line in p.lines()]
    assert leftover == [], f"work left after the faults cleared: {leftover}"
    mark = admin.mark()
    again = app.applier.apply()
    assert again.ok and again.applied == [] and again.deferred == [], again.summary()
    assert estate.writes_since(mark) == []
    (assert_wired if connected else assert_unwired)(estate)
    assert_references_resolve(estate)


def _objects(estate: Estate) -> list[dict]:
    from tests.e2e.conftest import _iter_objects

    return list(_iter_objects(estate.objects()))


def assert_references_resolve(estate: Estate) -> None:
    """No workload points at a Service Connector secret or service account that does not exist: deleting one still
    in use breaks the workload's next pod start (CreateContainerConfigError)."""
    objects = _objects(estate)
    existing = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
    broken = []
    for item in objects:
        if item["kind"] not in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
            continue
        namespace = item["metadata"]["namespace"]
        for secret in env_from_secrets(item):
            if naming.is_service_connector_secret(secret) and ("Secret", namespace, secret) not in existing:
                broken.append(f"{item['kind']}/{item['metadata']['name']} -> secret {secret}")
        account = pod_spec(item).get("serviceAccountName") or ""
        if account.startswith("sc-account-") and ("ServiceAccount", namespace, account) not in existing:
            broken.append(f"{item['kind']}/{item['metadata']['name']} -> service account {account}")
    assert broken == [], f"workloads reference deleted objects: {broken}"


def assert_only_ours_deleted(admin: Admin, since: int) -> None:
    """The request log since `since` holds no DELETE of anything that is not ours (whether or not it succeeded)."""
    log = admin.requests_since(since)
    deletes = [r for r in log if r["method"] == "DELETE" and r.get("principal") != "platform-admin"]  # not the user's
    foreign = [f"{r['service']} {r['path']}" for r in deletes if not any(p.search(r["path"]) for p in OURS_TO_DELETE)]
    assert foreign == [], f"deleted something that is not ours: {foreign}"


def wait_for_request(admin: Admin, since: int, predicate: Callable[[dict], bool], timeout: float = 20.0) -> dict:
    """The first logged request after `since` that satisfies `predicate`, waiting for it to complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in admin.requests_since(since):
            if predicate(entry):
                return entry
        time.sleep(0.05)
    raise AssertionError("the expected request never completed")


@pytest.fixture
def estate(admin: Admin) -> Estate:
    return Estate(admin)


@pytest.fixture
def app(cloud) -> Application:
    return new_app()


@pytest.fixture
def world(make_cloud, monkeypatch):
    """tests/faults/world.py's two-subscription estate, wired."""
    from tests.faults.world import scenario, wire

    return wire(make_cloud(scenario()), monkeypatch)
