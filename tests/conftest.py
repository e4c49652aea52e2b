"""Shared fixtures: a fresh local cloud per test, with the app's environment pointed at it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

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


def demo_spec() -> dict:
    return yaml.safe_load(DEMO_SCENARIO.read_text())


@pytest.fixture
def make_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., LocalCloud]]:
    """Start a local cloud from a scenario (dict or path) and point the process environment at it."""
    started: list[LocalCloud] = []

    def factory(spec: dict | Path | None = None) -> LocalCloud:
        source = copy.deepcopy(spec) if isinstance(spec, dict) else (spec or DEMO_SCENARIO)
        cloud = start(source, tmp_path / f"cloud{len(started)}")
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
