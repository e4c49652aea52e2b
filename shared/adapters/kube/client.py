"""A `kubernetes` ApiClient per AKS cluster: server and CA from listClusterUserCredential, our own token.

AKS clusters with Entra ID integration hand out a kubeconfig whose user is an exec plugin (kubelogin);
an app instead presents its own Entra token for the AKS server application, which is what we do.
"""

from __future__ import annotations

import base64
import hashlib
import os
import resource
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client as k8s

from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.errors import AZURE_ERRORS, read_failed, with_retries
from shared.adapters.errors import ReadError
from shared.adapters.storage import SharedFacts
from shared.core.ids import ResourceRef

ENDPOINT_FACT = "cluster-endpoint"
POOL_SIZE = 16  # connections kept per cluster: its state is read with ~10 calls at once
MIN_OPEN_CLIENTS, MAX_OPEN_CLIENTS = 64, 512
_CA_DIR = Path(tempfile.gettempdir()) / "sc-autopilot-ca"


@dataclass(frozen=True)
class Endpoint:
    """Where a cluster's API server is and which CA signs it (no credential: we present our own token)."""

    server: str
    ca_file: str | None


class KubeClients:
    """A pooled ApiClient per cluster, reused for the run. Endpoints (one listClusterUserCredential each: a POST,
    counted in ARM's write bucket) are kept for the process and, with `facts`, for every instance of the app in its
    storage (server URL and public CA only; the token is always our own, from the credential, in memory). An
    endpoint that stops answering is forgotten (`forget`) and asked for again. Open clients are bounded, least
    recently used closed first, because every pool holds TLS connections (file descriptors): as many as the
    process's descriptor limit allows (open_client_limit), so a run's second pass over its clusters (look at all,
    then reconcile or sweep each) finds their pools open instead of paying every TLS handshake again."""

    def __init__(self, azure: AzureClients, facts: SharedFacts | None = None, max_open: int | None = None):
        self.azure = azure
        self.facts = facts
        self.max_open = open_client_limit() if max_open is None else max_open
        self._endpoints: dict[str, Endpoint] = {}
        self._clients: OrderedDict[str, k8s.ApiClient] = OrderedDict()
        self._lock = threading.Lock()

    def for_cluster(self, cluster: ResourceRef) -> k8s.ApiClient:
        key = cluster.id.lower()
        with self._lock:
            existing = self._clients.get(key)
            if existing is not None:
                self._clients.move_to_end(key)
                return existing
            endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = self._endpoint(cluster)
        built = self._build(endpoint)
        with self._lock:
            self._endpoints[key] = endpoint
            client = self._clients.setdefault(key, built)
            self._clients.move_to_end(key)
            while len(self._clients) > self.max_open:
                _, evicted = self._clients.popitem(last=False)
                evicted.rest_client.pool_manager.clear()  # a call still using it opens a fresh connection
            return client

    def renew(self, cluster: ResourceRef) -> bool:
        """The cluster's API server did not answer: its kept endpoint may be stale (a cluster re-created under the
        same id has a new server and CA), so ARM is asked again. True when ARM now names another endpoint, i.e. the
        unanswered reads are worth repeating once; False when it is the same (the server itself is down) or ARM
        cannot say (the reads' own failure stands)."""
        key = cluster.id.lower()
        with self._lock:
            kept = self._endpoints.pop(key, None)
            self._clients.pop(key, None)
        if self.facts is not None:
            self.facts.forget(ENDPOINT_FACT, cluster.id)
        try:
            fresh = self._endpoint(cluster)
        except ReadError:
            return False
        with self._lock:
            self._endpoints[key] = fresh
        return fresh != kept

    def _endpoint(self, cluster: ResourceRef) -> Endpoint:
        shared = self.facts.get(ENDPOINT_FACT, cluster.id) if self.facts is not None else None
        if shared is not None and shared.get("server"):
            ca = shared.get("ca")
            return Endpoint(shared["server"], str(_write_ca(base64.b64decode(ca))) if ca else None)
        clusters = self.azure.containers(cluster.subscription_id).managed_clusters
        try:
            retrying = with_retries(base_seconds=self.azure.settings.retry_base_seconds)
            credentials = retrying(clusters.list_cluster_user_credentials, cluster.resource_group, cluster.name)
        except AZURE_ERRORS as error:
            raise read_failed("cluster credentials (listClusterUserCredential)", cluster.id, error) from error
        kubeconfig = yaml.safe_load(credentials.kubeconfigs[0].value)
        server = kubeconfig["clusters"][0]["cluster"]
        ca_data = server.get("certificate-authority-data")
        if self.facts is not None:  # the kubeconfig's user (a credential for some clusters) is never kept
            self.facts.put(ENDPOINT_FACT, cluster.id, {"server": server["server"], "ca": ca_data})
        return Endpoint(server["server"], str(_write_ca(base64.b64decode(ca_data))) if ca_data else None)

    def _build(self, endpoint: Endpoint) -> k8s.ApiClient:
        config = k8s.Configuration()
        config.host = endpoint.server
        if endpoint.ca_file:
            config.ssl_ca_cert = endpoint.ca_file
        azure = self.azure
        config.api_key_prefix = {"authorization": "Bearer"}
        config.api_key = {"authorization": azure.aks_token()}

        def refresh(configuration: k8s.Configuration) -> None:
            # azure-identity caches tokens and renews them before expiry; ask on every request.
            configuration.api_key = {"authorization": azure.aks_token()}

        config.refresh_api_key_hook = refresh
        config.connection_pool_maxsize = POOL_SIZE
        config.retries = False  # one retry policy per transport: KubeApi's (urllib3 would retry 3 times under it)
        api_client = k8s.ApiClient(config)
        api_client.request_timeout = self.azure.settings.http_timeout_seconds  # read by KubeApi on every call
        api_client.retry_base_seconds = self.azure.settings.retry_base_seconds / 2  # likewise
        api_client.retry_refused = self.azure.settings.retry_refused  # likewise
        return api_client


def open_client_limit() -> int:
    """How many clusters' pools may stay open: half the soft descriptor limit at POOL_SIZE each, within
    [MIN_OPEN_CLIENTS, MAX_OPEN_CLIENTS] (20000 descriptors: 512 clusters; 1024: 64)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_CLIENTS
    return max(MIN_OPEN_CLIENTS, min(MAX_OPEN_CLIENTS, soft // (2 * POOL_SIZE)))


def _write_ca(pem: bytes) -> Path:
    """The CA as a file the TLS stack can load, named by its content. Written to a private temporary file and
    renamed into place, so another thread or process never loads it half-written (an empty CA file fails every
    TLS handshake with NO_CERTIFICATE_OR_CRL_FOUND)."""
    _CA_DIR.mkdir(parents=True, exist_ok=True)
    path = _CA_DIR / f"{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    if not path.exists():
        with tempfile.NamedTemporaryFile(dir=_CA_DIR, suffix=".tmp", delete=False) as partial:
            partial.write(pem)
        os.replace(partial.name, path)
    return path
