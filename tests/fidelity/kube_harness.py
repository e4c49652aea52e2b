"""One emulated cluster's Kubernetes API behind HTTPS, without the rest of the local cloud."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator import tls
from emulator.http import Principal, Request, Response
from emulator.kube import KubeApi, ObjectStore
from emulator.server import start_server

PREFIX = "/clusters/c1"
SCOPE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1"
ACTIONS = "Microsoft.ContainerService/managedClusters"
# token -> (principal, the data actions it holds)
PRINCIPALS = {
    "admin-token": (Principal("admin", "0000aaaa-0000-4000-8000-000000000001", "c1", "t"), None),
    "reader-token": (
        Principal("reader", "0000bbbb-0000-4000-8000-000000000002", "c2", "t"),
        {f"{ACTIONS}/apps/deployments/read", f"{ACTIONS}/secrets/read"},
    ),
}
SCENARIO = {
    "namespaces": ["shop"],
    "workloads": [
        {"kind": "Deployment", "name": "api", "namespace": "shop", "containers": ["api"]},
        {"kind": "Deployment", "name": "web", "namespace": "shop", "containers": ["web", "nginx"]},
        {"kind": "StatefulSet", "name": "worker", "namespace": "shop", "containers": ["worker"]},
        {"kind": "CronJob", "name": "report", "namespace": "shop", "containers": ["report"]},
    ],
}


@dataclass
class Cluster:
    store: ObjectStore
    server_url: str
    ca_bundle: Path

    def kubeconfig(self, path: Path, token: str = "admin-token") -> Path:
        ca = base64.b64encode(self.ca_bundle.read_bytes()).decode()
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c1",
            "clusters": [{"name": "c1", "cluster": {"server": self.server_url, "certificate-authority-data": ca}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c1", "context": {"cluster": "c1", "user": "u", "namespace": "shop"}}],
        }))  # fmt: skip
        return path


def _authorize(principal: Principal, action: str, scope: str) -> bool:
    rights = next(r for p, r in PRINCIPALS.values() if p == principal)
    return scope == SCOPE and (rights is None or action in rights)


@pytest.fixture(name="cluster")
def cluster_fixture(tmp_path: Path) -> Iterator[Cluster]:
    """A fresh cluster seeded with SCENARIO; the wrapper plays the lead's dispatcher (prefix and bearer token)."""
    store = ObjectStore()
    store.load(SCENARIO)
    api = KubeApi(store, SCOPE, _authorize)

    def handler(request: Request) -> Response:
        if not request.path.startswith(PREFIX + "/"):
            return Response(404, {"error": "no such cluster"})
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        request.principal = PRINCIPALS[token][0] if token in PRINCIPALS else None
        return api.handle(request, request.path[len(PREFIX) :])

    credentials = tls.mint(tmp_path / "tls")
    server, base_url = start_server(handler, ssl_context=credentials.server_context)
    yield Cluster(store, base_url + PREFIX, credentials.ca_bundle)
    server.shutdown()
    server.server_close()
