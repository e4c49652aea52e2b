"""Shared fixtures: a fresh local cloud per test, with the app's environment pointed at it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml
from azure.core.credentials import AccessToken

from emulator.runtime import LocalCloud, start

ROOT = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = ROOT / "emulator" / "scenarios" / "demo.yaml"


class Admin:
    """The emulator's /_emulator API, for arranging situations and inspecting what happened."""

    def __init__(self, cloud: LocalCloud):
        self.cloud = cloud
        self.session = requests.Session()
        self.session.verify = str(cloud.ca_bundle)
        self.session.trust_env = False

    def _url(self, path: str) -> str:
        return f"{self.cloud.arm_endpoint}/_emulator/{path}"

    def get(self, path: str, **params) -> dict:
        response = self.session.get(self._url(path), params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: object) -> dict:
        response = self.session.post(self._url(path), json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def requests_since(self, seq: int) -> list[dict]:
        return self.get("requests", since=seq)["requests"]

    def mark(self) -> int:
        return self.get("requests", since=10**9)["next"]

    def token(self, principal: str, resource: str = "https://management.azure.com") -> str:
        return self.post("token", {"principal": principal, "resource": resource})["access_token"]

    def state(self) -> dict:
        return self.get("state")

    def cluster_objects(self, cluster_id: str) -> dict:
        clusters = {k.lower(): v for k, v in self.state()["clusters"].items()}
        return clusters[cluster_id.lower()]["objects"]


class UserCredential:
    """A TokenCredential for a scenario principal (a person on the platform team), minted by the emulator."""

    def __init__(self, admin: Admin, principal: str):
        self.admin = admin
        self.principal = principal

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        resource = scopes[0].removesuffix("/.default")
        body = self.admin.post("token", {"principal": self.principal, "resource": resource})
        return AccessToken(body["access_token"], int(body["expires_on"]))


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
