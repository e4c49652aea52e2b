"""ARM reads and writes sc-autopilot needs, through the real management SDKs. No decisions here."""

from __future__ import annotations

import copy

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resource.resources.models import GenericResourceExpanded

from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.errors import with_retries
from shared.core.model import TaggedResource

GROUP_TAG = "sc-group"
API_VERSIONS = {
    "microsoft.sql/servers/databases": "2023-08-01",
    "microsoft.cognitiveservices/accounts": "2024-10-01",
}


class Arm:
    def __init__(self, clients: AzureClients):
        self.clients = clients
        self._retry = with_retries

    def tagged_resources(self, subscription_id: str) -> list[TaggedResource]:
        """Everything carrying `sc-group` in a subscription: one paged call, not one per resource."""
        pages = self.clients.resources(subscription_id).resources.list(filter=f"tagName eq '{GROUP_TAG}'")
        return [_tagged(r) for r in self._retry()(list, pages)]

    def list_clusters(self, subscription_id: str) -> list:
        """Every AKS cluster of a subscription, full objects: one paged call instead of a GET per cluster."""
        return self._retry()(list, self.clients.containers(subscription_id).managed_clusters.list())

    def get_cluster(self, cluster_id: str):
        sub, rg, name = _parts(cluster_id)
        try:
            return self._retry()(self.clients.containers(sub).managed_clusters.get, rg, name)
        except ResourceNotFoundError:
            return None

    def get_resource(self, resource_id: str, resource_type: str):
        sub = resource_id.split("/")[2]
        api_version = API_VERSIONS[resource_type.lower()]
        try:
            return self._retry()(
                lambda: self.clients.resources(sub).resources.get_by_id(resource_id, api_version=api_version)
            )
        except ResourceNotFoundError:
            return None

    def get_identity(self, identity_id: str):
        sub, rg, name = _parts(identity_id)
        try:
            return self._retry()(self.clients.identities(sub).user_assigned_identities.get, rg, name)
        except ResourceNotFoundError:
            return None

    def federated_credentials(self, identity_id: str) -> list:
        sub, rg, name = _parts(identity_id)
        pages = self.clients.identities(sub).federated_identity_credentials.list(rg, name)
        return self._retry()(list, pages)

    def extension(self, cluster_id: str, name: str = "sc-extension"):
        sub, rg, cluster = _parts(cluster_id)
        operations = self.clients.extensions(sub).extensions
        try:
            return self._retry()(operations.get, rg, "Microsoft.ContainerService", "managedClusters", cluster, name)
        except ResourceNotFoundError:
            return None

    def provider_state(self, subscription_id: str, namespace: str) -> str:
        provider = self._retry()(self.clients.resources(subscription_id).providers.get, namespace)
        return provider.registration_state or "NotRegistered"

    def register_provider(self, subscription_id: str, namespace: str) -> str:
        provider = self._retry()(self.clients.resources(subscription_id).providers.register, namespace)
        return provider.registration_state or "Registering"

    # -- Service Connector -----------------------------------------------------------------------------
    def list_linkers(self, cluster_id: str) -> list:
        return self._retry()(list, self.clients.linkers().linker.list(cluster_id))

    def has_linker_to(self, cluster_id: str, target_id: str) -> bool:
        """Whether any linker on the cluster points at the target (ours or not: the planner decides)."""
        target = target_id.lower()
        return any(
            (linker.target_service and (linker.target_service.id or "").lower() == target)
            for linker in self.list_linkers(cluster_id)
        )

    def put_linker(self, cluster_id: str, name: str, body: dict):
        """Create or replace a linker and wait for its LRO (Accepted -> Succeeded | Failed)."""
        linkers = self.clients.linkers().linker
        # A fresh copy per attempt: the SDK consumes parts of a dict body, so a retry would send it incomplete.
        return self._retry()(lambda: linkers.begin_create_or_update(cluster_id, name, copy.deepcopy(body)).result())

    def delete_linker(self, cluster_id: str, name: str) -> None:
        linkers = self.clients.linkers().linker
        self._retry()(lambda: linkers.begin_delete(cluster_id, name).result())

    def validate_linker(self, cluster_id: str, name: str):
        linkers = self.clients.linkers().linker
        return self._retry()(lambda: linkers.begin_validate(cluster_id, name).result())

    def linker_configuration_names(self, cluster_id: str, name: str) -> list[str]:
        result = self._retry()(self.clients.linkers().linker.list_configurations, cluster_id, name)
        return [c.name for c in result.configurations or []]


def _tagged(resource: GenericResourceExpanded) -> TaggedResource:
    return TaggedResource(
        id=resource.id, type=(resource.type or "").lower(), kind=resource.kind or "", tags=dict(resource.tags or {})
    )


def _parts(resource_id: str) -> tuple[str, str, str]:
    segments = resource_id.split("/")
    return segments[2], segments[4], segments[-1]
