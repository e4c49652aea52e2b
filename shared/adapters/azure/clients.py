"""One credential and reused SDK clients, pointed at the configured ARM endpoint."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from azure.core.credentials import TokenCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.servicelinker import ServiceLinkerManagementClient

from shared.adapters.azure.credential import default_credential
from shared.adapters.azure.pacing import PacingPolicy, RateLimitPacer
from shared.config import Settings

SERVICE_LINKER_API_VERSION = "2024-04-01"
AKS_SERVER_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"


class AzureClients:
    """Clients are built once per subscription and reused, so connections are pooled across calls."""

    def __init__(self, settings: Settings, credential: TokenCredential | None = None):
        self.settings = settings
        self._credential = credential
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.pacer = RateLimitPacer()  # one per process: every ARM client draws on the same buckets

    @cached_property
    def credential(self) -> TokenCredential:
        return self._credential or default_credential(self.settings)

    def _timeouts(self) -> dict[str, float]:
        # azure-core's transport waits 300 s by default to connect and again to read: a hung server would hold a run
        # (and its retries) for many minutes. A timed-out attempt is a transient failure and is retried.
        # retry_total=0: one retry policy per transport, errors.with_retries (azure-core's would retry 10 times
        # under each of ours).
        timeout = self.settings.http_timeout_seconds
        return {"connection_timeout": timeout, "read_timeout": timeout, "retry_total": 0}

    def _arm_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.settings.arm_endpoint,
            "credential_scopes": [self.settings.arm_scope],
            "polling_interval": self.settings.lro_poll_seconds,
            "per_retry_policies": [PacingPolicy(self.pacer)],
            **self._timeouts(),
        }

    def _get(self, kind: str, key: str, build) -> Any:
        with self._lock:
            client = self._cache.get((kind, key))
            if client is None:
                client = self._cache[(kind, key)] = build()
            return client

    def resources(self, subscription_id: str) -> ResourceManagementClient:
        return self._get(
            "resources",
            subscription_id,
            lambda: ResourceManagementClient(self.credential, subscription_id, **self._arm_kwargs()),
        )

    def containers(self, subscription_id: str) -> ContainerServiceClient:
        return self._get(
            "containers",
            subscription_id,
            lambda: ContainerServiceClient(self.credential, subscription_id, **self._arm_kwargs()),
        )

    def identities(self, subscription_id: str) -> ManagedServiceIdentityClient:
        return self._get(
            "identities",
            subscription_id,
            lambda: ManagedServiceIdentityClient(self.credential, subscription_id, **self._arm_kwargs()),
        )

    def extensions(self, subscription_id: str) -> SourceControlConfigurationClient:
        return self._get(
            "extensions",
            subscription_id,
            lambda: SourceControlConfigurationClient(self.credential, subscription_id, **self._arm_kwargs()),
        )

    def linkers(self) -> ServiceLinkerManagementClient:
        return self._get(
            "linkers",
            "",
            lambda: ServiceLinkerManagementClient(
                self.credential, api_version=SERVICE_LINKER_API_VERSION, **self._arm_kwargs()
            ),
        )

    def graph(self) -> ResourceGraphClient:
        """Azure Resource Graph: tenant-level queries, outside the subscriptions' token buckets (its own quota)."""
        return self._get("graph", "", lambda: ResourceGraphClient(self.credential, **self._arm_kwargs()))

    def secrets(self, vault_url: str) -> SecretClient:
        return self._get(
            "secrets", vault_url.lower(), lambda: SecretClient(vault_url, self.credential, **self._timeouts())
        )

    def aks_token(self) -> str:
        """A bearer token for the AKS API server (Entra ID-integrated clusters) from our own identity."""
        return self.credential.get_token(AKS_SERVER_SCOPE).token
