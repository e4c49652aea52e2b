"""Each emulated AKS cluster's Kubernetes API, served under /clusters/{key}, and the kubeconfig that reaches it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import yaml

from emulator.arm import managedclusters
from emulator.http import Principal, Request, Response
from emulator.identity import TokenService
from emulator.kube import KubeApi, ObjectStore
from emulator.kube.errors import status_body
from emulator.site import Site


@dataclass
class ClusterRuntime:
    """An emulated AKS cluster's Kubernetes API, served under /clusters/{key}."""

    key: str
    cluster_id: str
    store: ObjectStore
    api: KubeApi
    server: str | None = None  # the scenario's `api_server`: the kubeconfig names it instead (e.g. one that refuses)


class Clusters:
    """The Kubernetes side of every managed cluster ARM knows, by cluster id and by URL key."""

    def __init__(self, tokens: TokenService, site: Site):
        self._tokens = tokens
        self._site = site
        self._by_id: dict[str, ClusterRuntime] = {}  # by lower-case cluster id
        self._by_key: dict[str, ClusterRuntime] = {}

    def ensure(self, cluster: dict) -> ClusterRuntime:
        key = cluster["id"].lower()
        runtime = self._by_id.get(key)
        if runtime is None:
            short = "c" + hashlib.sha256(key.encode()).hexdigest()[:12]
            store = ObjectStore()
            api = KubeApi(store, cluster["id"], self._authorize_data_action)
            runtime = ClusterRuntime(short, cluster["id"], store, api)
            self._by_id[key] = runtime
            self._by_key[short] = runtime
        return runtime

    def drop(self, cluster_id: str) -> None:
        runtime = self._by_id.pop(cluster_id.lower(), None)
        if runtime:
            self._by_key.pop(runtime.key, None)

    def runtime(self, cluster_id: str) -> ClusterRuntime:
        return self._by_id[cluster_id.lower()]

    def all(self) -> list[ClusterRuntime]:
        return list(self._by_id.values())

    def handle(self, request: Request) -> Response:
        """A request under /clusters/{key}/..., routed to that cluster's API server."""
        _, _, key, *rest = request.path.split("/", 3)
        runtime = self._by_key.get(key)
        if runtime is None:
            return Response(404, status_body(404, "NotFound", f"no cluster {key}"))
        return runtime.api.handle(request, "/" + (rest[0] if rest else ""))

    def kubeconfig_for(self, cluster: dict) -> str:
        """What listClusterUserCredential returns for this cluster's API server."""
        runtime = self.ensure(cluster)
        server = runtime.server or f"{self._site.arm_endpoint}/clusters/{runtime.key}"
        config = managedclusters.user_kubeconfig(cluster, server, self._site.ca_pem, self._tokens.tenant_id)
        return yaml.safe_dump(config)

    def _authorize_data_action(self, principal: Principal, action: str, scope: str) -> bool:
        identity = self._tokens.identities.get(principal.object_id)
        return identity is not None and identity.allowed(action, scope, data=True)
