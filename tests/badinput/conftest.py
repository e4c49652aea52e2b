"""Bad-input suite: the end-to-end fixtures (estate, app) on a demo cloud that also runs a kube-system workload
and a bystander namespace, so that a write outside the intended scope has something to hit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import pytest

from emulator.runtime import LocalCloud
from shared.config import DEFAULT_PROTECTED_NAMESPACES
from tests.conftest import demo_spec, indexed_functions
from tests.e2e.conftest import Estate, app, estate  # noqa: F401 - the end-to-end fixtures, used as they are

WRITE_METHODS = {"PUT", "PATCH", "POST", "DELETE"}
# POSTs that only read: the cluster's kubeconfig (the app fetches it to reach the Kubernetes API) and a linker's
# configuration names (the keys its secret holds, checked against the workload's own before wiring).
READ_ONLY_POSTS = re.compile(r"/managedClusters/[^/]+/listClusterUserCredential$|/linkers/[^/]+/listConfigurations$",
                             re.IGNORECASE)  # fmt: skip
PROTECTED = DEFAULT_PROTECTED_NAMESPACES  # the app runs with the default setting
BYSTANDERS = (("Deployment", "kube-system", "coredns"), ("Deployment", "payments", "ledger"))


def hostile_spec() -> dict:
    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]["kubernetes"]
    cluster["namespaces"].append("payments")
    cluster["workloads"] += [
        {"kind": "Deployment", "name": "coredns", "namespace": "kube-system", "containers": ["coredns"]},
        {"kind": "Deployment", "name": "ledger", "namespace": "payments", "containers": ["ledger"]},
    ]
    return spec


@pytest.fixture
def cloud(make_cloud: Callable[..., LocalCloud]) -> LocalCloud:
    return make_cloud(hostile_spec())


# after a secret-auth put: the Key Vault version the connection's secret now holds, recorded on it (issue 21)
RECORD_VERSION = r"^PATCH /clusters/[^/]+/api/v1/namespaces/shop/secrets/sc-[a-z0-9]+-secret$"


def writes_since(admin, mark: int) -> list[dict]:
    """Successful writes to ARM, Kubernetes or Key Vault since `mark` (reads, and the kubeconfig POST, are fine)."""
    return [
        r
        for r in admin.requests_since(mark)
        if r["method"] in WRITE_METHODS and r["status"] < 400 and not READ_ONLY_POSTS.search(r["path"])
    ]


def assert_writes_within(writes: list[dict], allowed: Iterable[str]) -> None:
    """Every write is one of `allowed` (regexes on "METHOD path"); none touches a protected namespace or deletes."""
    patterns = [re.compile(p) for p in allowed]
    lines = [f"{w['method']} {w['path']}" for w in writes]
    assert [line for line in lines if not any(p.search(line) for p in patterns)] == []
    assert [line for line in lines if any(f"/namespaces/{ns}/" in line for ns in PROTECTED)] == []
    assert [line for line in lines if line.startswith("DELETE")] == []


def bystanders(state: Estate) -> list[dict]:
    """The workloads no tag may ever name: kube-system's coredns and payments' ledger, as the cluster holds them."""
    return [state.workload(kind, name, namespace) for kind, namespace, name in BYSTANDERS]


@pytest.fixture
def on_resource_event(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Callable, list]]:
    """The Functions entry point as the worker calls it, and the RunReports it produced (the function itself
    returns nothing: the reports are observed on their way out, nothing is replaced)."""
    from shared import container as app_module
    from shared.service.events import EventDriver

    reports: list = []
    handle = EventDriver.handle

    def observed(self, events):
        report = handle(self, events)
        reports.append(report)
        return report

    monkeypatch.setattr(EventDriver, "handle", observed)
    app_module.application.cache_clear()  # one Application per process: build it against this test's cloud
    yield indexed_functions()["on_resource_event"].get_user_function(), reports
    app_module.application.cache_clear()
