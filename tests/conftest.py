"""Shared fixtures: a fresh local cloud per test, with the app's environment pointed at it."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bench.azurite import azurite as start_azurite
from emulator.client import AdminClient, PersonCredential
from emulator.runtime import LocalCloud, start

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "emulator" / "scenarios" / "demo.yaml"
# Resource ids of the demo scenario
SUB = "c0ffee00-0000-4000-8000-00000000d370"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-shop"
CLUSTER = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-shop"
DATABASE = f"{RG}/providers/Microsoft.Sql/servers/sql-shop/databases/orders"
OPENAI = f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-shop"
IDENTITY = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-shop-workloads"


class Admin(AdminClient):
    """The admin API of one test's local cloud."""

    def __init__(self, cloud: LocalCloud):
        super().__init__(cloud.arm_endpoint, str(cloud.ca_bundle))
        self.cloud = cloud


UserCredential = PersonCredential
AKS_AUDIENCE = "6dae42f8-4368-4678-94ff-3960e28e3630"


def kube_call(admin: Admin, cluster_id: str, method: str, path: str, body: object, content_type: str) -> dict:
    """A person (platform-admin) calling a cluster's Kubernetes API, as kubectl would: e.g. a namespace owner
    creating or annotating a namespace."""
    token = admin.token("platform-admin", AKS_AUDIENCE)
    runtime = admin.cloud.cloud.clusters.runtime(cluster_id)  # its kubeconfig's server: emulated, or a real one
    server = (
        runtime.control_plane.server if runtime.control_plane else f"{admin.cloud.arm_endpoint}/clusters/{runtime.key}"
    )
    response = admin.session.request(
        method, f"{server}{path}", json=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )  # fmt: skip
    response.raise_for_status()
    return response.json()


@functools.cache  # the worker indexes once; a second get_functions() reports every function as a duplicate
def indexed_functions() -> dict:
    """The Functions app indexed as the Python worker does: name -> azure.functions.Function."""
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


def demo_spec() -> dict:
    return yaml.safe_load(DEMO_SCENARIO.read_text())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `realkube` runs twice: on the emulated Kubernetes API and on a real control plane."""
    if metafunc.definition.get_closest_marker("realkube") and "kube_backend" in metafunc.fixturenames:
        metafunc.parametrize("kube_backend", ["emulated", "real"], indirect=True)


@pytest.fixture
def kube_backend(request: pytest.FixtureRequest) -> str | None:
    """Each cluster's Kubernetes API: the scenario's choice (emulated by default), or "real" for `realkube` tests."""
    return getattr(request, "param", None)


@pytest.fixture
def make_cloud(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kube_backend: str | None
) -> Iterator[Callable[..., LocalCloud]]:
    """Start a local cloud from a scenario (dict or path) and point the process environment at it."""
    started: list[LocalCloud] = []

    def factory(spec: dict | Path | None = None) -> LocalCloud:
        source = copy.deepcopy(spec) if isinstance(spec, dict) else (spec or DEMO_SCENARIO)
        cloud = start(source, tmp_path / f"cloud{len(started)}", kube_backend)
        started.append(cloud)
        for key, value in cloud.environment().items():
            monkeypatch.setenv(key, value)
        return cloud

    yield factory
    for cloud in started:
        cloud.stop()


@pytest.fixture
def cloud(make_cloud: Callable[..., LocalCloud]) -> LocalCloud:
    return make_cloud()


@pytest.fixture
def admin(cloud: LocalCloud) -> Admin:
    return Admin(cloud)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real Azure Storage emulator (npm azurite) for the session, on free loopback ports (the bench's starter);
    yields a connection string."""
    try:
        with start_azurite(str(tmp_path_factory.mktemp("azurite"))) as connection:
            yield connection
    except RuntimeError as error:  # not installed, or did not start
        pytest.fail(f"{error}: run `make test` (it runs npm install)")
