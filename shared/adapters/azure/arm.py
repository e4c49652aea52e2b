"""ARM reads and writes sc-autopilot needs, through the real management SDKs. No decisions here."""

from __future__ import annotations

import copy
import functools
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.rest import HttpRequest
from azure.mgmt.containerservice.models import ManagedCluster
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions
from azure.mgmt.servicelinker.models import LinkerResource

from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.errors import AZURE_ERRORS, is_absent, read_failed, with_retries
from shared.adapters.errors import ReadError
from shared.core import catalogue
from shared.core.codes import ReadFailure
from shared.core.ids import ResourceRef
from shared.core.model import ClusterInfo, Connection, IdentityInfo, TaggedResource

GROUP_TAG = "sc-group"
T = TypeVar("T")
_NO_ABSENT: object = object()  # for reads where even a 404 is a failure (a listing, a provider, a POST)
API_VERSIONS = {e.tagged_type.lower(): e.api_version for e in catalogue.ENTRIES}  # GET of a tagged resource
COSMOS_ACCOUNT_TYPE = "microsoft.documentdb/databaseaccounts"
RESOURCES_API_VERSION = "2025-04-01"  # azure-mgmt-resource's, for the raw tag listing
SDK_ERROR_MAP = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError,
                 304: ResourceNotModifiedError}  # the generated operations' own  # fmt: skip


class Arm:
    """Every read returns its complete result or raises ReadError; only a 404 of the resource itself is "absent"
    (None). A paged listing is read whole inside each attempt, from a fresh pager: a pager that failed is spent
    (iterating it again yields nothing), so retrying it would turn a failure into an empty list."""

    def __init__(self, clients: AzureClients):
        self.clients = clients
        self._retry = functools.partial(with_retries, base_seconds=clients.settings.retry_base_seconds)
        self._capabilities: dict[tuple[str, str], tuple[str, ...]] = {}  # Cosmos DB accounts' APIs, by (id, created)

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
        """Everything carrying `sc-group` in a subscription, with its provisioning state: one paged call, not one per
        resource (an event needs no GET of its cluster). Read as JSON through the client's own pipeline
        (`send_request`: its credential, pacing and retries): the SDK's models of a 400-resource listing cost an
        event ~35 ms of CPU, more than everything else it reads."""
        client = self.clients.resources(subscription_id)
        query = {"api-version": RESOURCES_API_VERSION, "$filter": f"tagName eq '{GROUP_TAG}'",
                 "$expand": "provisioningState,createdTime"}  # fmt: skip
        first = HttpRequest("GET", f"/subscriptions/{subscription_id}/resources", params=query)
        listing = self._listing("tag listing", f"/subscriptions/{subscription_id}", lambda: _json_pages(client, first))
        return [self._with_capabilities(_tagged(r), r.get("createdTime")) for r in listing]

    def _with_capabilities(self, resource: TaggedResource, created: object) -> TaggedResource:
        """A Cosmos DB account's API is in its properties, which a listing leaves out: one GET per tagged
        NoSQL-kind account (kind MongoDB says its API already). A failed GET fails the listing (never a guess). An
        account's API is chosen when it is created and never changes: read once per account (and creation time: a
        re-created account is read again) for the process, not on every event."""
        if resource.type != COSMOS_ACCOUNT_TYPE or resource.kind.lower() == "mongodb":
            return resource
        key = (resource.id.lower(), str(created))
        names = self._capabilities.get(key) if created is not None else None
        if names is None:
            resources = self.clients.resources(ResourceRef.parse(resource.id).subscription_id).resources
            found = self._read("Cosmos DB account", resource.id, lambda: resources.get_by_id(
                resource.id, api_version=API_VERSIONS[COSMOS_ACCOUNT_TYPE]), absent=_NO_ABSENT)  # fmt: skip
            capabilities = (found.properties or {}).get("capabilities") or []
            names = tuple(str(c.get("name", "")) for c in capabilities if isinstance(c, dict))
            if created is not None:
                self._capabilities[key] = names
        return replace(resource, capabilities=names)

    def list_clusters(self, subscription_id: str) -> list[ClusterInfo]:
        """Every AKS cluster of a subscription: one paged call instead of a GET per cluster."""
        clusters = self.clients.containers(subscription_id).managed_clusters
        return [_cluster_info(c) for c in self._listing("cluster listing", f"/subscriptions/{subscription_id}",
                                                        clusters.list)]  # fmt: skip

    def get_cluster(self, cluster_id: str) -> ClusterInfo | None:
        ref = ResourceRef.parse(cluster_id)
        clusters = self.clients.containers(ref.subscription_id).managed_clusters
        found = self._read("cluster", cluster_id, lambda: clusters.get(ref.resource_group, ref.name), absent=None)
        return None if found is None else _cluster_info(found)

    def target_exists(self, resource_id: str, resource_type: str) -> bool:
        resources = self.clients.resources(ResourceRef.parse(resource_id).subscription_id).resources
        api_version = API_VERSIONS[resource_type.lower()]
        found = self._read("target", resource_id, lambda: resources.get_by_id(resource_id, api_version=api_version),
                           absent=None)  # fmt: skip
        return found is not None

    def get_identity(self, identity_id: str) -> IdentityInfo | None:
        ref = ResourceRef.parse(identity_id)
        identities = self.clients.identities(ref.subscription_id).user_assigned_identities
        found = self._read("identity", identity_id, lambda: identities.get(ref.resource_group, ref.name), absent=None)
        if found is None:
            return None
        return IdentityInfo(ResourceRef.parse(found.id), found.client_id, found.principal_id, dict(found.tags or {}))

    def list_identities(self, subscription_id: str) -> list[IdentityInfo]:
        """Every user-assigned identity of a subscription: one paged call instead of a GET per cluster's identity."""
        identities = self.clients.identities(subscription_id).user_assigned_identities
        listing = self._listing("identity listing", f"/subscriptions/{subscription_id}",
                                identities.list_by_subscription)  # fmt: skip
        return [IdentityInfo(ResourceRef.parse(i.id), i.client_id, i.principal_id, dict(i.tags or {})) for i in listing]

    def extension_states(self, subscriptions: tuple[str, ...], name: str = "sc-extension") -> dict[str, str]:
        """The named cluster extension's provisioning state on every cluster that has it (lower-case cluster id),
        from Azure Resource Graph: one query per 1000 extensions instead of a GET per cluster. Resource Graph lags
        ARM by seconds: callers take only what a lag cannot turn into a wrong verdict."""
        graph = self.clients.graph()
        query = ("kubernetesconfigurationresources | where type =~ 'microsoft.kubernetesconfiguration/extensions' "
                 f"and name =~ '{name}' | project id, properties")  # fmt: skip
        states: dict[str, str] = {}
        skip_token = None
        while True:
            request = QueryRequest(subscriptions=list(subscriptions), query=query,
                                   options=QueryRequestOptions(top=1000, skip_token=skip_token,
                                                               result_format="objectArray"))  # fmt: skip
            page = self._read("Resource Graph query", "/providers/Microsoft.ResourceGraph/resources",
                              lambda request=request: graph.resources(request), absent=_NO_ABSENT)  # fmt: skip
            for row in page.data or []:
                cluster = row["id"].lower().split("/providers/microsoft.kubernetesconfiguration/")[0]
                states[cluster] = (row.get("properties") or {}).get("provisioningState") or "Unknown"
            skip_token = page.skip_token
            if not skip_token:
                return states

    def federated_subjects(self, identity_id: str) -> frozenset[tuple[str, str]]:
        """(issuer, subject) of every federated credential on the identity."""
        ref = ResourceRef.parse(identity_id)
        credentials = self.clients.identities(ref.subscription_id).federated_identity_credentials
        listing = self._listing("federated credentials", identity_id,
                                lambda: credentials.list(ref.resource_group, ref.name))  # fmt: skip
        return frozenset((c.issuer, c.subject) for c in listing)

    def extension_state(self, cluster_id: str, name: str = "sc-extension") -> str | None:
        """The cluster extension's provisioning state; None when it is not installed."""
        ref = ResourceRef.parse(cluster_id)
        operations = self.clients.extensions(ref.subscription_id).extensions
        found = self._read(
            f"extension {name}", cluster_id,
            lambda: operations.get(ref.resource_group, "Microsoft.ContainerService", "managedClusters", ref.name, name),
            absent=None,
        )  # fmt: skip
        return None if found is None else (found.provisioning_state or "Unknown")

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
    def list_linkers(self, cluster_id: str) -> list[Connection]:
        linkers = self.clients.linkers().linker
        return [_connection(lk) for lk in self._listing("linker listing", cluster_id, lambda: linkers.list(cluster_id))]

    def has_linker_to(self, cluster_id: str, target_id: str) -> bool:
        """Whether any linker on the cluster points at the resource or below it (a storage account's blob service,
        a server's database), ours or not: the planner decides."""
        wanted = target_id.lower().rstrip("/")
        return any(c.target_id.lower() == wanted or c.target_id.lower().startswith(wanted + "/")
                   for c in self.list_linkers(cluster_id))  # fmt: skip

    def put_linker(self, cluster_id: str, name: str, body: dict) -> str:
        """Create or replace a linker and wait for its LRO (Accepted -> Succeeded | Failed); its final state."""
        linkers = self.clients.linkers().linker
        # A fresh copy per attempt: the SDK consumes parts of a dict body, so a retry would send it incomplete.
        put = self._retry()(lambda: linkers.begin_create_or_update(cluster_id, name, copy.deepcopy(body)).result())
        return put.provisioning_state or ""

    def delete_linker(self, cluster_id: str, name: str) -> None:
        linkers = self.clients.linkers().linker
        self._retry()(lambda: linkers.begin_delete(cluster_id, name).result())

    def validate_linker(self, cluster_id: str, name: str) -> tuple[bool, tuple[str, ...]]:
        """Service Connector's own validation (an LRO POST), read like any other evidence: (available, failures)."""
        linkers = self.clients.linkers().linker
        result = self._read("validateLinker", f"{cluster_id}/providers/Microsoft.ServiceLinker/linkers/{name}",
                            lambda: linkers.begin_validate(cluster_id, name).result(), absent=_NO_ABSENT)  # fmt: skip
        failures = tuple(d.error_message or d.name for d in result.validation_detail or [] if d.result == "failure")
        return bool(result.is_connection_available), failures

    def linker_configuration_names(self, cluster_id: str, name: str) -> list[str]:
        linkers = self.clients.linkers().linker
        result = self._read("listConfigurations", f"{cluster_id}/providers/Microsoft.ServiceLinker/linkers/{name}",
                            lambda: linkers.list_configurations(cluster_id, name), absent=_NO_ABSENT)  # fmt: skip
        return [c.name for c in result.configurations or []]


def _json_pages(client: ResourceManagementClient, request: HttpRequest) -> Iterator[dict]:
    """The items of an ARM listing, following `nextLink` (with our api-version, as the SDK's pagers do); an error
    answer raises as the SDK's own operations raise it."""
    while True:
        response = client.send_request(request)
        if response.status_code != 200:
            map_error(status_code=response.status_code, response=response, error_map=SDK_ERROR_MAP)
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        page = response.json()
        yield from page.get("value") or []
        if not page.get("nextLink"):
            return
        link = urllib.parse.urlparse(page["nextLink"])
        query = dict(urllib.parse.parse_qsl(link.query)) | {"api-version": RESOURCES_API_VERSION}
        request = HttpRequest("GET", urllib.parse.urljoin(page["nextLink"], link.path), params=query)


def _tagged(resource: dict) -> TaggedResource:
    """From the listing's JSON (GenericResourceExpanded's wire names)."""
    return TaggedResource(
        id=resource.get("id"), type=(resource.get("type") or "").lower(), kind=resource.get("kind") or "",
        tags=dict(resource.get("tags") or {}), provisioning_state=resource.get("provisioningState"),
    )  # fmt: skip


def _cluster_info(found: ManagedCluster) -> ClusterInfo:
    oidc = found.oidc_issuer_profile
    security = found.security_profile
    return ClusterInfo(
        ref=ResourceRef.parse(found.id),
        tags=dict(found.tags or {}),
        provisioning_state=found.provisioning_state or "Unknown",
        oidc_issuer_url=(oidc.issuer_url if oidc and oidc.enabled else None),
        workload_identity_enabled=bool(security and security.workload_identity and security.workload_identity.enabled),
    )


def _connection(linker: LinkerResource) -> Connection:
    auth = linker.auth_info
    properties = linker.target_service and getattr(linker.target_service, "resource_properties", None)
    return Connection(
        name=linker.name,
        target_id=(linker.target_service.id if linker.target_service else "") or "",
        auth_type=(auth.auth_type if auth else "") or "",
        namespace=linker.scope or "default",
        client_type=linker.client_type or "none",
        provisioning_state=linker.provisioning_state or "Unknown",
        client_id=getattr(auth, "client_id", None),
        secret_user=getattr(auth, "name", None),
        csi=bool(getattr(properties, "connect_as_kubernetes_csi_driver", False)),
    )
