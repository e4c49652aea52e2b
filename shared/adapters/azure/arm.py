"""ARM reads and writes sc-autopilot needs, through the real management SDKs. No decisions here."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import TypeVar

from azure.mgmt.resource.resources.models import GenericResourceExpanded

from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.errors import AZURE_ERRORS, is_absent, read_failed, with_retries
from shared.adapters.errors import ReadError
from shared.core.codes import ReadFailure
from shared.core.ids import ResourceRef
from shared.core.model import TaggedResource

GROUP_TAG = "sc-group"
T = TypeVar("T")
_NO_ABSENT: object = object()  # for reads where even a 404 is a failure (a listing, a provider, a POST)
API_VERSIONS = {
    "microsoft.sql/servers/databases": "2023-08-01",
    "microsoft.cognitiveservices/accounts": "2024-10-01",
}


class Arm:
    """Every read returns its complete result or raises ReadError; only a 404 of the resource itself is "absent"
    (None). A paged listing is read whole inside each attempt, from a fresh pager: a pager that failed is spent
    (iterating it again yields nothing), so retrying it would turn a failure into an empty list."""

    def __init__(self, clients: AzureClients):
        self.clients = clients
        self._retry = functools.partial(with_retries, base_seconds=clients.settings.retry_base_seconds)

    def _read(self, read: str, resource_id: str, call: Callable[[], T], *, absent: T | None = None) -> T:
        def attempt() -> T:
            try:
                return call()
            except AZURE_ERRORS as error:
                if absent is not _NO_ABSENT and is_absent(error):
                    return absent  # type: ignore[return-value]
                raise

        try:
            return self._retry()(attempt)
        except AZURE_ERRORS as error:
            raise read_failed(read, resource_id, error) from error

    def _listing(self, read: str, resource_id: str, pager: Callable[[], Iterable[T]]) -> list[T]:
        return self._read(read, resource_id, lambda: list(pager()), absent=_NO_ABSENT)

    def tagged_resources(self, subscription_id: str) -> list[TaggedResource]:
        """Everything carrying `sc-group` in a subscription: one paged call, not one per resource."""
        resources = self.clients.resources(subscription_id).resources
        listing = self._listing("tag listing", f"/subscriptions/{subscription_id}",
                                lambda: resources.list(filter=f"tagName eq '{GROUP_TAG}'"))  # fmt: skip
        return [_tagged(r) for r in listing]

    def list_clusters(self, subscription_id: str) -> list:
        """Every AKS cluster of a subscription, full objects: one paged call instead of a GET per cluster."""
        clusters = self.clients.containers(subscription_id).managed_clusters
        return self._listing("cluster listing", f"/subscriptions/{subscription_id}", clusters.list)

    def get_cluster(self, cluster_id: str):
        ref = ResourceRef.parse(cluster_id)
        clusters = self.clients.containers(ref.subscription_id).managed_clusters
        return self._read("cluster", cluster_id, lambda: clusters.get(ref.resource_group, ref.name), absent=None)

    def get_resource(self, resource_id: str, resource_type: str):
        resources = self.clients.resources(ResourceRef.parse(resource_id).subscription_id).resources
        api_version = API_VERSIONS[resource_type.lower()]
        return self._read("target", resource_id, lambda: resources.get_by_id(resource_id, api_version=api_version),
                          absent=None)  # fmt: skip

    def get_identity(self, identity_id: str):
        ref = ResourceRef.parse(identity_id)
        identities = self.clients.identities(ref.subscription_id).user_assigned_identities
        return self._read("identity", identity_id, lambda: identities.get(ref.resource_group, ref.name), absent=None)

    def federated_credentials(self, identity_id: str) -> list:
        ref = ResourceRef.parse(identity_id)
        credentials = self.clients.identities(ref.subscription_id).federated_identity_credentials
        return self._listing("federated credentials", identity_id,
                             lambda: credentials.list(ref.resource_group, ref.name))  # fmt: skip

    def extension(self, cluster_id: str, name: str = "sc-extension"):
        ref = ResourceRef.parse(cluster_id)
        operations = self.clients.extensions(ref.subscription_id).extensions
        return self._read(
            f"extension {name}", cluster_id,
            lambda: operations.get(ref.resource_group, "Microsoft.ContainerService", "managedClusters", ref.name, name),
            absent=None,
        )  # fmt: skip

    def provider_state(self, subscription_id: str, namespace: str) -> str:
        providers = self.clients.resources(subscription_id).providers
        scope = f"/subscriptions/{subscription_id}/providers/{namespace}"
        provider = self._read("provider registration", scope, lambda: providers.get(namespace), absent=_NO_ABSENT)
        if not provider.registration_state:
            raise ReadError(ReadFailure("provider registration", scope, 200, "NoRegistrationState"))
        return provider.registration_state

    def register_provider(self, subscription_id: str, namespace: str) -> str:
        provider = self._retry()(self.clients.resources(subscription_id).providers.register, namespace)
        return provider.registration_state or "Registering"

    # -- Service Connector -----------------------------------------------------------------------------
    def list_linkers(self, cluster_id: str) -> list:
        linkers = self.clients.linkers().linker
        return self._listing("linker listing", cluster_id, lambda: linkers.list(cluster_id))

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
        """Service Connector's own validation (an LRO POST): read like any other evidence."""
        linkers = self.clients.linkers().linker
        return self._read("validateLinker", f"{cluster_id}/providers/Microsoft.ServiceLinker/linkers/{name}",
                          lambda: linkers.begin_validate(cluster_id, name).result(), absent=_NO_ABSENT)  # fmt: skip

    def linker_configuration_names(self, cluster_id: str, name: str) -> list[str]:
        linkers = self.clients.linkers().linker
        result = self._read("listConfigurations", f"{cluster_id}/providers/Microsoft.ServiceLinker/linkers/{name}",
                            lambda: linkers.list_configurations(cluster_id, name), absent=_NO_ABSENT)  # fmt: skip
        return [c.name for c in result.configurations or []]


def _tagged(resource: GenericResourceExpanded) -> TaggedResource:
    return TaggedResource(
        id=resource.id, type=(resource.type or "").lower(), kind=resource.kind or "", tags=dict(resource.tags or {})
    )
