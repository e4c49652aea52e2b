"""One real control plane (tools/localkube) per emulated AKS cluster: its files, its process, its admin client."""

from __future__ import annotations

import http.client
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.kube.resources import BY_KIND, BY_PLURAL, KINDS, Kind
from emulator.kube.store import expand_workload

log = logging.getLogger("emulator.realkube")
START_TIMEOUT_SECONDS = 240  # a loaded 2-core machine starts one in ~10-30 s; several at once take longer
# Names the API server's certificate covers: how the kubeconfig reaches it, and how pods would (kubernetes.default).
SERVING_NAMES = ("127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "10.0.0.1")


# Client requests only: the control plane's own traffic (the controllers and nodes use the admin token, the API
# server its loopback identity) is not what the emulated API's request log shows either.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived", "ResponseStarted", "Panic"],
    "rules": [
        {"level": "None", "users": ["localkube-admin", "system:apiserver"]},
        {"level": "None", "userGroups": ["system:serviceaccounts", "system:nodes"]},
        {"level": "Metadata"},
    ],
}


class ControlPlaneError(RuntimeError):
    """The control plane did not start or answer; the message names its log."""


@dataclass
class Webhooks:
    """Where the API server's token and authorisation webhooks (guard) reach the local cloud."""

    base_url: str  # {base_url}/authenticate, /authorize, /audit
    ca_file: Path
    secret: str


class ControlPlane:
    """`localkube up` for one cluster: started once, stopped with the local cloud, reached with an admin token."""

    def __init__(self, binary: Path, directory: Path, ca: trustme.CA, webhooks: Webhooks):
        self.binary = binary
        self.directory = directory
        self._ca = ca
        self._webhooks = webhooks
        self._admin_token = secrets.token_urlsafe(32)
        self._process: subprocess.Popen | None = None
        self.port = 0
        self.start_seconds = 0.0

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self._write_files()
        self.port = _free_port()
        log_file = (self.directory / "localkube.log").open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own binary
            [str(self.binary), "up", "--dir", str(self.directory), "--port", str(self.port)],
            stdout=log_file,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends the apiserver and controllers with it
        )
        log_file.close()
        self._wait_ready(started + START_TIMEOUT_SECONDS)
        self.start_seconds = time.monotonic() - started
        log.warning(
            "real control plane for %s ready in %.1f s at %s (%d MiB)",
            self.directory.name,
            self.start_seconds,
            self.server,
            self.memory_mib(),
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # localkube stops its children, then etcd
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def memory_mib(self) -> int:
        """Resident memory of localkube and its children (kube-apiserver, kube-controller-manager)."""
        if self._process is None:
            return 0
        total = 0
        for pid in [self._process.pid, *_children(self._process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total // 1024

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ControlPlaneError(f"localkube exited; see {self.directory / 'localkube.log'}")
            try:
                status, _ = self.request("GET", "/readyz")
                nodes_status, nodes = self.request("GET", "/api/v1/nodes")
                if status == 200 and nodes_status == 200 and _any_ready(nodes.get("items") or []):
                    return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise ControlPlaneError(f"localkube not ready in {START_TIMEOUT_SECONDS} s; see {self.directory}")

    def _write_files(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write = lambda name, data: _write_private(self.directory / name, data)  # noqa: E731
        self._ca.cert_pem.write_to_path(str(self.directory / "ca.crt"))
        serving = self._ca.issue_cert(*SERVING_NAMES)
        write("apiserver.crt", b"".join(blob.bytes() for blob in serving.cert_chain_pems))
        write("apiserver.key", serving.private_key_pem.bytes())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write(
            "sa.key",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        write("admin.token", self._admin_token.encode())
        hooks = self._webhooks
        for name, endpoint in (("authn", "authenticate"), ("authz", "authorize"), ("audit", "audit")):
            config = _webhook_kubeconfig(f"{hooks.base_url}/{endpoint}", hooks.ca_file, hooks.secret)
            write(f"{name}-webhook.kubeconfig", config)
        write("audit-policy.yaml", json.dumps(AUDIT_POLICY).encode())

    # -- the admin client ------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None, content_type: str = "application/json"):
        """(status, decoded JSON body) for one call as the cluster admin (system:masters)."""
        context = ssl.create_default_context(cadata=self._ca.cert_pem.bytes().decode())
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30)
        try:
            headers = {"Authorization": f"Bearer {self._admin_token}", "Accept": "application/json"}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {"raw": raw.decode(errors="replace")}
        return response.status, decoded


class RemoteStore:
    """What the rest of the local cloud asks of a cluster's objects (ObjectStore's get/apply/snapshot/load), answered
    by the real API server: Service Linker's provisioning writes its secrets and service accounts here."""

    def __init__(self, control_plane: ControlPlane):
        self._api = control_plane

    def get(self, plural: str, namespace: str | None, name: str) -> dict | None:
        status, body = self._api.request("GET", _path(BY_PLURAL[plural], namespace, name))
        if status == 404:
            return None
        _check(status, body, f"get {plural} {namespace}/{name}")
        return body

    def list(self, plural: str, namespace: str | None = None) -> list[dict]:
        kind = BY_PLURAL[plural]
        status, body = self._api.request("GET", _path(kind, namespace, None))
        _check(status, body, f"list {plural}")
        # a list's items carry no kind; the snapshot's readers (the admin API) expect each object whole
        return [{"apiVersion": kind.api_version, "kind": kind.kind, **item} for item in body.get("items") or []]

    def apply(self, obj: dict) -> dict:
        """Create, or replace what is there (the local cloud's own writes, e.g. Service Linker's secret)."""
        kind = BY_KIND[obj["kind"]]
        body = json.loads(json.dumps(obj))
        meta = body["metadata"]
        namespace = meta.get("namespace", "default") if kind.namespaced else None
        current = self.get(kind.plural, namespace, meta["name"])
        if current is None:
            meta.pop("resourceVersion", None)
            status, answer = self._api.request("POST", _path(kind, namespace, None), body)
        else:  # unconditionally, as ObjectStore.apply: whatever resourceVersion the caller read
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            status, answer = self._api.request("PUT", _path(kind, namespace, meta["name"]), body)
        _check(status, answer, f"apply {kind.kind} {meta['name']}")
        return answer

    def delete(self, plural: str, namespace: str | None, name: str) -> bool:
        status, body = self._api.request("DELETE", _path(BY_PLURAL[plural], namespace, name))
        if status == 404:
            return False
        _check(status, body, f"delete {plural} {namespace}/{name}")
        return True

    def snapshot(self) -> dict:
        return {kind.plural: self.list(kind.plural) for kind in KINDS}

    def load(self, spec: dict) -> None:
        """The scenario's `kubernetes:` section, created through the API (docs/emulator-kubernetes.md)."""
        for entry in spec.get("namespaces") or []:
            meta = {"name": entry} if isinstance(entry, str) else {k: v for k, v in entry.items() if v}
            current = self.get("namespaces", None, meta["name"])
            if current is None:
                self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
            elif meta.keys() - {"name"}:
                status, body = self._api.request(
                    "PATCH", _path(BY_PLURAL["namespaces"], None, meta["name"]), {"metadata": meta},
                    "application/merge-patch+json",
                )  # fmt: skip
                _check(status, body, f"annotate namespace {meta['name']}")
        for compact in spec.get("workloads") or []:
            self.apply(expand_workload(compact))
        for manifest in spec.get("objects") or []:
            self.apply(manifest)


def _path(kind: Kind, namespace: str | None, name: str | None) -> str:
    path = kind.group_path
    if kind.namespaced and namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{kind.plural}"
    return f"{path}/{name}" if name else path


def _check(status: int, body: dict, what: str) -> None:
    if status >= 300:
        raise ControlPlaneError(f"{what}: {status} {body.get('reason')}: {body.get('message')}")


def _any_ready(nodes: list[dict]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for node in nodes
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _webhook_kubeconfig(url: str, ca_file: Path, secret: str) -> bytes:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "guard", "cluster": {"server": url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "kube-apiserver", "user": {"token": secret}}],
        "contexts": [{"name": "webhook", "context": {"cluster": "guard", "user": "kube-apiserver"}}],
        "current-context": "webhook",
    }
    return json.dumps(config, indent=1).encode()


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]
