"""Each emulated AKS cluster's Kubernetes API and the kubeconfig that reaches it.

Two backends: the emulated API server (emulator/kube, served under /clusters/{key}; the default, no Go needed), or
a real control plane per cluster (emulator/realkube: kube-apiserver and controllers built from tools/localkube), whose
token and authorisation webhooks the local cloud answers under /_guard/{key}/.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import trustme
import yaml

from emulator.arm import managedclusters
from emulator.http import Principal, Request, Response
from emulator.identity import TokenService
from emulator.kube import KubeApi, ObjectStore
from emulator.kube.errors import status_body
from emulator.realkube.controlplane import ControlPlane, RemoteStore, Webhooks
from emulator.realkube.guard import Guard
from emulator.site import Site

log = logging.getLogger("emulator")


class KubeBackend(StrEnum):
    EMULATED = "emulated"
    REAL = "real"


@dataclass
class RealKube:
    """What a real control plane needs from the running local cloud: the binary, a place for its files, the CA that
    signs its serving certificate (the one every client already trusts), and where guard listens."""

    binary: Path
    workdir: Path
    ca: trustme.CA
    ca_file: Path
    guard_url: str


@dataclass
class ClusterRuntime:
    """One AKS cluster's Kubernetes side: the emulated API (api), or a real control plane (control_plane)."""

    key: str
    cluster_id: str
    store: ObjectStore | RemoteStore | None  # RemoteStore once a real control plane runs (None until then)
    api: KubeApi | None
    control_plane: ControlPlane | None = None
    guard: Guard | None = None
    pending: dict = field(default_factory=dict)  # the scenario's objects, for a control plane not started yet
    server: str | None = None  # the scenario's `api_server`: the kubeconfig names it instead (e.g. one that refuses)


class Clusters:
    """The Kubernetes side of every managed cluster ARM knows, by cluster id and by URL key."""

    def __init__(
        self,
        tokens: TokenService,
        site: Site,
        record: Callable[[dict], None],
        backend: KubeBackend = KubeBackend.EMULATED,
    ):
        self._tokens = tokens
        self._site = site
        self._record = record  # the request log: a real API server's audit events go there
        self.backend = backend
        self._real: RealKube | None = None  # known once the front door listens (the webhooks point at it)
        self._by_id: dict[str, ClusterRuntime] = {}  # by lower-case cluster id
        self._by_key: dict[str, ClusterRuntime] = {}

    def ensure(self, cluster: dict) -> ClusterRuntime:
        key = cluster["id"].lower()
        runtime = self._by_id.get(key)
        if runtime is None:
            short = "c" + hashlib.sha256(key.encode()).hexdigest()[:12]
            if self.backend == KubeBackend.REAL:
                runtime = ClusterRuntime(short, cluster["id"], None, None)
            else:
                store = ObjectStore()
                runtime = ClusterRuntime(short, cluster["id"], store, KubeApi(store, cluster["id"], self._authorize))
            self._by_id[key] = runtime
            self._by_key[short] = runtime
            if self._real is not None:
                self._start(runtime)  # a cluster created through ARM gets its control plane at once
        return runtime

    def load(self, cluster: dict, spec: dict) -> None:
        """The scenario's namespaces, workloads and objects for this cluster (created when its API server runs)."""
        runtime = self.ensure(cluster)
        if runtime.store is None:
            runtime.pending = spec
        else:
            runtime.store.load(spec)

    def start_real(self, real: RealKube) -> None:
        """Start every cluster's control plane side by side (the local cloud's front door is up)."""
        self._real = real
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._start, [r for r in self._by_id.values() if r.control_plane is None]))

    def stop(self) -> None:
        for runtime in self._by_id.values():
            if runtime.control_plane is not None:
                runtime.control_plane.stop()

    def _start(self, runtime: ClusterRuntime) -> None:
        real = self._real
        secret = secrets.token_urlsafe(32)
        runtime.guard = Guard(self._tokens, self._authorize, self._record, runtime.cluster_id, runtime.key, secret)
        hooks = Webhooks(f"{real.guard_url}/_guard/{runtime.key}", real.ca_file, secret)
        runtime.control_plane = ControlPlane(real.binary, real.workdir / runtime.key, real.ca, hooks)
        runtime.control_plane.start()
        runtime.store = RemoteStore(runtime.control_plane)
        runtime.store.load(runtime.pending)
        runtime.pending = {}

    def drop(self, cluster_id: str) -> None:
        runtime = self._by_id.pop(cluster_id.lower(), None)
        if runtime:
            self._by_key.pop(runtime.key, None)
            if runtime.control_plane is not None:
                runtime.control_plane.stop()

    def runtime(self, cluster_id: str) -> ClusterRuntime:
        return self._by_id[cluster_id.lower()]

    def all(self) -> list[ClusterRuntime]:
        return list(self._by_id.values())

    def handle(self, request: Request) -> Response:
        """A request under /clusters/{key}/..., routed to that cluster's emulated API server."""
        _, _, key, *rest = request.path.split("/", 3)
        runtime = self._by_key.get(key)
        if runtime is None or runtime.api is None:
            return Response(404, status_body(404, "NotFound", f"no emulated cluster {key}"))
        return runtime.api.handle(request, "/" + (rest[0] if rest else ""))

    def handle_guard(self, request: Request) -> Response:
        """/_guard/{key}/authenticate|authorize|audit: a real API server's TokenReview, SubjectAccessReview, or audit
        events."""
        _, _, key, endpoint = [*request.path.split("/", 3), ""][:4]
        runtime = self._by_key.get(key)
        if runtime is None or runtime.guard is None:
            return Response(404, status_body(404, "NotFound", f"no real cluster {key}"))
        return runtime.guard.handle(request, endpoint)

    def kubeconfig_for(self, cluster: dict) -> str:
        """What listClusterUserCredential returns for this cluster's API server."""
        runtime = self.ensure(cluster)
        if runtime.server is not None:
            server = runtime.server
        elif runtime.control_plane is not None:
            server = runtime.control_plane.server
        else:
            server = f"{self._site.arm_endpoint}/clusters/{runtime.key}"
        config = managedclusters.user_kubeconfig(cluster, server, self._site.ca_pem, self._tokens.tenant_id)
        return yaml.safe_dump(config)

    def report(self) -> dict:
        """Per real cluster: its API server, how long it took to start, and its resident memory."""
        return {
            r.cluster_id: {
                "server": r.control_plane.server,
                "start_seconds": round(r.control_plane.start_seconds, 1),
                "memory_mib": r.control_plane.memory_mib(),
            }
            for r in self._by_id.values()
            if r.control_plane is not None
        }

    def _authorize(self, principal: Principal, action: str, scope: str) -> bool:
        identity = self._tokens.identities.get(principal.object_id)
        return identity is not None and identity.allowed(action, scope, data=True)
