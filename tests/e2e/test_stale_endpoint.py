"""A cluster's API endpoint is kept for every instance in the app's storage (issue 23), so it can outlive the server it
names: a cluster deleted and re-created under the same id gets a new server and CA. The first run that finds the kept
endpoint unanswered asks ARM again and, since ARM names another endpoint, reads once more: it converges in that run
instead of failing until some later one."""

from __future__ import annotations

import contextlib
import socket

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.adapters.kube.client import ENDPOINT_FACT
from shared.adapters.storage import SharedFacts
from shared.config import Settings, StorageSettings
from shared.container import Application
from tests.conftest import CLUSTER, OPENAI, Admin
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, Estate

CREDENTIAL_POST = "listclusterusercredential"


@pytest.fixture
def admin(cloud, azurite, monkeypatch) -> Admin:
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    container = SharedFacts.from_settings(StorageSettings.from_env()).container
    with contextlib.suppress(ResourceNotFoundError):  # Azurite is shared by the session: other clouds' facts go
        for blob in container.list_blobs():
            container.delete_blob(blob.name)
    return Admin(cloud)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def credential_posts(admin: Admin, mark: int) -> int:
    return sum(CREDENTIAL_POST in r["path"].lower() for r in admin.requests_since(mark) if r["service"] == "arm")


def test_a_stale_kept_endpoint_is_renewed_and_the_run_converges(admin):
    estate = Estate(admin)
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    facts = SharedFacts.from_settings(StorageSettings.from_env())
    stale = f"https://127.0.0.1:{closed_port()}"
    facts.put(ENDPOINT_FACT, CLUSTER, {"server": stale, "ca": None})  # what an earlier incarnation left
    mark = admin.mark()

    report = Application(Settings.from_env()).applier.apply()

    assert report.ok, report.summary()
    assert report.runs[0].outcomes, "the run did its work on the renewed endpoint"
    renewed = facts.get(ENDPOINT_FACT, CLUSTER)
    assert renewed is not None and renewed["server"] != stale
    assert credential_posts(admin, mark) == 1  # one question to ARM, not one per read


def test_an_endpoint_that_is_current_but_down_fails_the_read_without_a_loop(admin, monkeypatch):
    monkeypatch.setenv("SC_RETRY_BASE_SECONDS", "0")
    estate = Estate(admin)
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)
    app = Application(Settings.from_env())
    assert app.applier.apply().ok  # the endpoint is now kept
    admin.post("faults", [{"kind": "reset", "service": "kube", "method": "GET", "path": ".*", "times": None}])
    mark = admin.mark()

    report = Application(Settings.from_env()).applier.apply()

    assert not report.ok
    assert {f.code.name for r in report.runs for f in r.findings} >= {"READ_FAILED"}
    assert credential_posts(admin, mark) == 1  # asked once whether it moved; it had not, so no second round
