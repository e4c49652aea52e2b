"""A `kubernetes` ApiClient per AKS cluster: server and CA from listClusterUserCredential, our own token.

AKS clusters with Entra ID integration hand out a kubeconfig whose user is an exec plugin (kubelogin);
an app instead presents its own Entra token for the AKS server application, which is what we do.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from pathlib import Path

import yaml
from kubernetes import client as k8s

from shared.azure.clients import AzureClients
from shared.model import ResourceRef

_CA_DIR = Path(tempfile.gettempdir()) / "sc-autopilot-ca"


class KubeClients:
    """One pooled ApiClient per cluster, built on first use and reused for the whole run."""

    def __init__(self, azure: AzureClients):
        self.azure = azure
        self._clients: dict[str, k8s.ApiClient] = {}
        self._lock = threading.Lock()

    def for_cluster(self, cluster: ResourceRef) -> k8s.ApiClient:
        key = cluster.id.lower()
        with self._lock:
            existing = self._clients.get(key)
        if existing is not None:
            return existing
        built = self._build(cluster)
        with self._lock:
            return self._clients.setdefault(key, built)

    def _build(self, cluster: ResourceRef) -> k8s.ApiClient:
        credentials = self.azure.containers(cluster.subscription_id).managed_clusters.list_cluster_user_credentials(
            cluster.resource_group, cluster.name
        )
        kubeconfig = yaml.safe_load(credentials.kubeconfigs[0].value)
        server = kubeconfig["clusters"][0]["cluster"]
        config = k8s.Configuration()
        config.host = server["server"]
        ca_data = server.get("certificate-authority-data")
        if ca_data:
            config.ssl_ca_cert = str(_write_ca(base64.b64decode(ca_data)))
        azure = self.azure
        config.api_key_prefix = {"authorization": "Bearer"}
        config.api_key = {"authorization": azure.aks_token()}

        def refresh(configuration: k8s.Configuration) -> None:
            # azure-identity caches tokens and renews them before expiry; ask on every request.
            configuration.api_key = {"authorization": azure.aks_token()}

        config.refresh_api_key_hook = refresh
        config.connection_pool_maxsize = 16  # a cluster's state is read with ~10 calls at once
        api_client = k8s.ApiClient(config)
        api_client.request_timeout = self.azure.settings.http_timeout_seconds  # read by KubeApi on every call
        return api_client


def _write_ca(pem: bytes) -> Path:
    _CA_DIR.mkdir(parents=True, exist_ok=True)
    path = _CA_DIR / f"{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    if not path.exists():
        path.write_bytes(pem)
    return path
