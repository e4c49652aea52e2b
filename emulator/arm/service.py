"""Azure Resource Manager: routing, RBAC, generic CRUD, listing with $filter, providers, tags, events."""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass

from emulator.arm import managedclusters, resourcegraph, tenancy
from emulator.arm import resources as rt
from emulator.arm.errors import arm_error, authorization_failed, bad_request, missing_registration, not_found
from emulator.arm.notify import ACTION, DELETE, WRITE, ResourceEvents
from emulator.arm.operations import Operations, Outcome
from emulator.arm.paths import ArmPath, Target, parse
from emulator.arm.servicelinker import ServiceLinker
from emulator.arm.store import ArmStore, parent_of
from emulator.clusters import Clusters
from emulator.http import Request, Response
from emulator.identity import Identity
from emulator.site import Site

PAGE_SIZE = 1000
_FILTER_CLAUSE = re.compile(r"\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)


@dataclass(kw_only=True, eq=False)
class ArmService:
    """The resource manager front: everything under /subscriptions, Service Connector's linkers delegated."""

    store: ArmStore
    operations: Operations
    linkers: ServiceLinker
    events: ResourceEvents
    clusters: Clusters
    tenant_id: str
    site: Site
    cluster_provisioning_seconds: float = 0  # how long a managed cluster PUT stays Creating / Updating
    provider_registration_seconds: float = 0  # how long a provider stays Registering (0: registered at once)

    # -- entry -----------------------------------------------------------------------------------------
    def handle(self, request: Request, identity: Identity) -> Response:
        path = parse(request.path, request.method)
        if path is None:
            raise arm_error(404, "InvalidResourceType", f"No route for '{request.path}'.")
        if "api-version" not in request.query:
            raise arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if path.target is Target.TENANTS:
            return Response(200, tenancy.tenants(self.tenant_id))
        if path.target is Target.SUBSCRIPTIONS:
            return Response(200, tenancy.subscriptions(self.store, identity, self.tenant_id))
        if path.target is Target.RESOURCE_GRAPH:
            return resourcegraph.query(self.store, self.tenant_id, request, identity)
        subscription = self.store.subscription(path.subscription_id)
        if subscription is None or (path.target is Target.SUBSCRIPTION and not tenancy.can_see(identity, subscription)):
            raise arm_error(
                404, "SubscriptionNotFound", f"The subscription '{path.subscription_id}' could not be found."
            )
        if path.target is Target.SUBSCRIPTION:
            return Response(200, tenancy.subscription(subscription, self.tenant_id))
        if path.target is Target.OPERATION:
            if "/operationresults/" in path.id.lower():
                return self.operations.result(path.action, self.site.arm_endpoint, request.query["api-version"])
            return self.operations.status(path.action)
        if path.target is Target.PROVIDER:
            return Response(200, self._provider_view(path.subscription_id, path.namespace))
        if path.target is Target.PROVIDER_ACTION:
            return self._provider_action(path, identity)
        if path.target is Target.RESOURCES_LIST:
            return self._list_resources(request, path, identity)
        if path.target is Target.COLLECTION:
            self._authorize(identity, f"{path.type}/read", path.id)
            return self._list_collection(request, path)
        if path.target is Target.ACTION:
            return self._action(request, path, identity)
        if path.target is Target.RESOURCE:
            return self._resource(request, path, identity)
        raise arm_error(404, "InvalidResourceType", f"No route for '{request.path}'.")

    # -- RBAC ------------------------------------------------------------------------------------------
    def _authorize(self, identity: Identity, action: str, scope: str, attributes: dict | None = None) -> None:
        if not identity.allowed(action, scope, attributes=attributes):
            raise authorization_failed(identity.principal, action, scope)

    # -- resources -------------------------------------------------------------------------------------
    def _resource(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        type_key = path.type.lower()
        verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(request.method)
        if verb is None:
            raise arm_error(405, "MethodNotAllowed", f"The method '{request.method}' is not allowed.")
        rbac_type = "Microsoft.Resources/subscriptions/resourceGroups" if type_key == rt.RESOURCE_GROUP else path.type
        self._authorize(identity, f"{rbac_type}/{verb}", path.id, self._condition_attributes(request, path))
        if type_key == rt.LINKER:
            return self.linkers.handle(request, path, identity)
        if type_key == rt.TAGS:
            return self._tags(request, path, identity)
        if type_key != rt.RESOURCE_GROUP and type_key not in rt.TYPES:
            raise arm_error(
                400, "NoRegisteredProviderFound", f"No registered resource provider found for type '{path.type}'."
            )
        if request.method in ("GET", "HEAD"):
            return Response(200, self._existing(path))
        if request.method == "DELETE":
            return self._delete(request, path, identity)
        return self._write(request, path, identity)

    def _condition_attributes(self, request: Request, path: ArmPath) -> dict | None:
        """What an ABAC condition tests on a role assignment: the request's (write) or the existing one's (delete)."""
        if path.type.lower() != rt.ROLE_ASSIGNMENT or request.method not in ("PUT", "DELETE"):
            return None
        source = (request.json() or {}) if request.method == "PUT" else (self.store.get(path.id) or {})
        props = source.get("properties") or {}
        return {"RoleDefinitionId": props.get("roleDefinitionId", ""), "PrincipalType": props.get("principalType", "")}

    def _existing(self, path: ArmPath) -> dict:
        resource = self.store.get(path.id)
        if resource is None:
            raise not_found(path.type, path.name, path.resource_group)
        return resource

    def _write(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        body = request.json() or {}
        type_key = path.type.lower()
        self._require_registered(path.subscription_id, path.type.split("/")[0])
        with self.store.lock:
            existing = self.store.get(path.id)
            if request.method == "PATCH":
                if existing is None:
                    raise not_found(path.type, path.name, path.resource_group)
                body = _merge(existing, body)
            if type_key == rt.RESOURCE_GROUP:
                resource = {
                    "id": path.id,
                    "name": path.name,
                    "type": "Microsoft.Resources/resourceGroups",
                    "location": body.get("location") or (existing or {}).get("location") or "westeurope",
                    "tags": dict(body.get("tags") or {}),
                    "properties": {"provisioningState": "Succeeded"},
                }
            else:
                self._require_parent(path, body)
                resource = rt.new_resource(path.id, type_key, body, existing, self.tenant_id)
            if type_key == rt.CLUSTER:
                resource["properties"]["provisioningState"] = "Updating" if existing else "Creating"
            self.store.put(resource)
            if existing is None and type_key != rt.RESOURCE_GROUP:
                for companion in rt.companions(resource, self.tenant_id):
                    self.store.put(companion)
            if type_key == rt.CLUSTER and existing is None:
                for node_resource in managedclusters.node_resources(resource):
                    self.store.put(node_resource)
        if type_key == rt.CLUSTER:
            self.clusters.ensure(resource)
        # ARM raises the write event when it accepts the PUT, not when a long-running provisioning ends
        self.events.emit(WRITE, path.id, f"{path.type}/write", request, identity, updated=existing is not None)
        if type_key == rt.CLUSTER:
            return self._provision_cluster(path, resource, existing is None, request.query["api-version"])
        status = 200 if existing or type_key == rt.RESOURCE_GROUP else rt.TYPES[type_key].created_status
        if status == 202:  # the provider answers Accepted and an operation; the client GETs the resource after it
            return self._accepted(path, resource.get("location", "global"), request.query["api-version"])
        return Response(status, resource)

    def _accepted(self, path: ArmPath, location: str, api_version: str) -> Response:
        op = self.operations.start(
            path.subscription_id, path.type.split("/")[0], location, lambda: Outcome("Succeeded")
        )
        status_url, result_url = self._operation_urls(op, api_version)
        return Response(202, None, {"Azure-AsyncOperation": status_url, "Location": result_url})

    def _provision_cluster(self, path: ArmPath, cluster: dict, created: bool, api_version: str) -> Response:
        """AKS answers Creating/Updating with an Azure-AsyncOperation and reaches Succeeded on its own, after the
        scenario's `cluster_provisioning_seconds`; a later PUT of the same cluster supersedes this one."""
        etag = cluster["eTag"]
        body = dict(cluster, properties=dict(cluster["properties"]))  # the answer, before the state moves on

        def complete() -> Outcome:
            with self.store.lock:
                current = self.store.get(path.id)
                if current is not None and current.get("eTag") == etag:
                    current["properties"]["provisioningState"] = "Succeeded"
            return Outcome("Succeeded")

        op = self.operations.start(
            path.subscription_id,
            "Microsoft.ContainerService",
            cluster["location"],
            complete,
            finish_after=self.cluster_provisioning_seconds,
        )
        status_url, _ = self._operation_urls(op, api_version)
        return Response(201 if created else 200, body, {"Azure-AsyncOperation": status_url})

    def _require_parent(self, path: ArmPath, body: dict) -> None:
        parent_id = parent_of(path.id)
        if "/providers/" not in parent_id.lower():
            if self.store.get(parent_id) is None:  # the resource group
                raise not_found("Microsoft.Resources/resourceGroups", parent_id.rsplit("/", 1)[-1], None)
            return
        parent = self.store.get(parent_id)
        if parent is None:
            raise arm_error(
                404,
                "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. "
                f"Parent resource '{parent_id.rsplit('/', 1)[-1]}' not found.",
            )
        check = rt.TYPES[path.type.lower()].parent_check
        if check is not None:
            check(parent, body)

    def _delete(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        removed = self.store.delete(path.id)
        if not removed:
            return Response(204)
        for resource in removed:
            if resource["type"].lower() == rt.CLUSTER:
                self.clusters.drop(resource["id"])
                self.store.delete(managedclusters.node_resource_group_id(resource))  # AKS removes its MC_ group
        self.events.emit(DELETE, path.id, f"{path.type}/delete", request, identity, updated=True)
        if path.type.lower() == rt.CLUSTER:  # AKS deletes asynchronously: 202 and an operation to poll
            op = self.operations.start(
                path.subscription_id,
                "Microsoft.ContainerService",
                removed[0].get("location", "global"),
                lambda: Outcome("Succeeded"),
                finish_after=self.cluster_provisioning_seconds,
            )
            urls = self._operation_urls(op, request.query["api-version"])
            return Response(202, None, {"Azure-AsyncOperation": urls[0], "Location": urls[1]})
        if rt.TYPES.get(path.type.lower(), rt.TypeSpec("")).deleted_status == 202:
            return self._accepted(path, removed[0].get("location", "global"), request.query["api-version"])
        return Response(200)

    def _operation_urls(self, op, api_version: str) -> tuple[str, str]:
        base = self.site.arm_endpoint
        return f"{base}{op.status_path}?api-version={api_version}", f"{base}{op.result_path}?api-version={api_version}"

    # -- tags at scope ---------------------------------------------------------------------------------
    def _tags(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        scope_id = path.id.rsplit("/providers/", 1)[0]
        with self.store.lock:
            target = self.store.get(scope_id)
            if target is None:
                raise not_found("resource", scope_id.rsplit("/", 1)[-1], path.resource_group)
            tags = dict(target.get("tags") or {})
            if request.method in ("PUT", "PATCH"):
                body = request.json() or {}
                incoming = dict((body.get("properties") or {}).get("tags") or {})
                operation = (body.get("operation") or "Replace").lower() if request.method == "PATCH" else "replace"
                if operation == "merge":
                    tags.update(incoming)
                elif operation == "delete":
                    tags = {k: v for k, v in tags.items() if incoming.get(k, object()) != v}
                else:
                    tags = incoming
                _validate_tags(tags)
                target["tags"] = tags
                self.store.put(target)  # a changed resource: its changedTime moves
            elif request.method == "DELETE":
                target["tags"] = tags = {}
        view = {"id": path.id, "name": "default", "type": "Microsoft.Resources/tags", "properties": {"tags": tags}}
        if request.method != "GET":
            self.events.emit(WRITE, path.id, "Microsoft.Resources/tags/write", request, identity, updated=True)
        return Response(200, view)

    # -- listing ---------------------------------------------------------------------------------------
    def _list_collection(self, request: Request, path: ArmPath) -> Response:
        type_key = path.type.lower()
        if type_key == rt.LINKER:
            return self.linkers.list(request, path)
        if type_key == rt.RESOURCE_GROUP:
            items = [r for r in self.store.of_type_under(path.id, "Microsoft.Resources/resourceGroups")]
        elif "/providers/" in path.id.lower():
            items = self.store.children(path.id, path.type)  # nested or extension resources
        else:
            items = self.store.of_type_under(path.id, path.type)  # by subscription or resource group
        return self._page(request, items)

    def _list_resources(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        predicate = _parse_filter(request.query.get("$filter", ""))
        expand = {e.strip().lower() for e in request.query.get("$expand", "").split(",") if e.strip()}
        items = [
            _generic_view(r, self.store.times(r["id"]) if expand else None, expand)
            for r in self.store.under(path.id)
            if r["type"].lower() in rt.TRACKED
            and predicate(r)
            and identity.allowed(f"{r['type']}/read", r["id"])  # ARM lists only what the caller may read
        ]
        return self._page(request, items)

    def _page(self, request: Request, items: list[dict]) -> Response:
        items = sorted(items, key=lambda r: r["id"].lower())
        top = int(request.query.get("$top") or PAGE_SIZE)
        skip = (
            int(base64.urlsafe_b64decode(request.query["$skiptoken"]).decode()) if "$skiptoken" in request.query else 0
        )
        page = items[skip : skip + top]
        body: dict = {"value": page}
        if skip + top < len(items):
            token = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
            query = "&".join(f"{k}={v}" for k, v in request.query.items() if k != "$skiptoken")
            body["nextLink"] = f"{self.site.arm_endpoint}{request.path}?{query}&$skiptoken={token}"
        return Response(200, body)

    # -- actions ---------------------------------------------------------------------------------------
    def _action(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        self._authorize(identity, f"{path.type}/{path.action}/action", path.id)
        type_key = path.type.lower()
        if type_key == rt.LINKER:
            return self.linkers.action(request, path, identity)
        resource = self._existing(path)
        handler = rt.TYPES.get(type_key, rt.TypeSpec("")).actions.get(path.action.lower())
        if handler is None:
            raise arm_error(
                404, "InvalidResourceType", f"The action '{path.action}' is not supported on '{path.type}'."
            )
        body = getattr(self, f"_action_{handler}")(resource) if isinstance(handler, str) else handler(resource)
        self.events.emit(ACTION, path.id, f"{path.type}/{path.action}/action", request, identity, updated=True)
        return Response(200, body)

    def _action_list_cluster_user_credential(self, cluster: dict) -> dict:
        kubeconfig = self.clusters.kubeconfig_for(cluster)
        return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}]}

    # -- providers -------------------------------------------------------------------------------------
    def _provider_view(self, subscription_id: str, namespace: str) -> dict:
        subscription = self.store.subscription(subscription_id)
        spelled = subscription.provider_names.get(namespace.lower(), namespace)
        return {
            "id": f"/subscriptions/{subscription_id}/providers/{spelled}",
            "namespace": spelled,
            "registrationState": subscription.provider_state(namespace),
            "resourceTypes": [],
        }

    def _provider_action(self, path: ArmPath, identity: Identity) -> Response:
        action = path.action.lower()
        if action not in ("register", "unregister"):
            raise arm_error(404, "InvalidResourceType", f"The action '{path.action}' is not supported.")
        self._authorize(identity, f"{path.namespace}/{action}/action", f"/subscriptions/{path.subscription_id}")
        subscription = self.store.subscription(path.subscription_id)
        if action == "unregister":
            subscription.set_provider(path.namespace, "Unregistered")
        elif self.provider_registration_seconds <= 0:
            subscription.set_provider(path.namespace, "Registered")
        elif subscription.provider_state(path.namespace) != "Registered":
            # as in Azure: the POST answers 'Registering'; the state turns 'Registered' later on its own
            subscription.set_provider(path.namespace, "Registering")
            done = threading.Timer(
                self.provider_registration_seconds, subscription.set_provider, (path.namespace, "Registered")
            )
            done.daemon = True
            done.start()
        return Response(200, self._provider_view(path.subscription_id, path.namespace))

    def _require_registered(self, subscription_id: str, namespace: str) -> None:
        subscription = self.store.subscription(subscription_id)
        if subscription.provider_state(namespace) != "Registered":
            raise missing_registration(namespace)


def _merge(existing: dict, patch: dict) -> dict:
    """ARM PATCH: a JSON merge of the patch into the current resource."""
    merged = dict(existing)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "tags":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate_tags(tags: dict) -> None:
    if len(tags) > 50:
        raise bad_request("The number of tags exceeds the limit of 50.", "InvalidTagCount")
    for name, value in tags.items():
        if len(name) > 512 or len(str(value)) > 256 or any(c in name for c in "<>%&\\?/"):
            raise bad_request(f"The tag name '{name[:64]}' or its value is invalid.", "InvalidTagNameCharacters")


def _generic_view(resource: dict, times: tuple[str, str] | None, expand: set[str]) -> dict:
    """A `/resources` item: the generic envelope, plus what `$expand=createdTime,changedTime,provisioningState` asks."""
    view = {k: resource[k] for k in ("id", "name", "type", "location", "tags", "kind", "sku") if k in resource}
    view.setdefault("tags", {})
    if times and "createdtime" in expand:
        view["createdTime"] = times[0]
    if times and "changedtime" in expand:
        view["changedTime"] = times[1]
    if "provisioningstate" in expand:
        view["provisioningState"] = (resource.get("properties") or {}).get("provisioningState", "Succeeded")
    return view


def _parse_filter(expression: str):
    """The `$filter` forms ARM supports on /resources that we use: resourceType, tagName, tagName+tagValue,
    resourceType clauses joined by `or`."""
    if not expression.strip():
        return lambda r: True
    if re.search(r"\bor\b", expression, re.IGNORECASE):
        clauses = [_clause(part) for part in re.split(r"\bor\b", expression, flags=re.IGNORECASE)]
        if any(field != "resourcetype" for field, _ in clauses):
            raise bad_request("Only resourceType clauses may be combined with 'or'.", "InvalidFilterInQueryString")
        wanted = {value.lower() for _, value in clauses}
        return lambda r: r["type"].lower() in wanted
    clauses = dict(_clause(part) for part in re.split(r"\band\b", expression, flags=re.IGNORECASE))
    if "tagvalue" in clauses and "tagname" not in clauses:
        raise bad_request("tagValue requires tagName.", "InvalidFilterInQueryString")
    if "tagname" in clauses and set(clauses) - {"tagname", "tagvalue"}:
        raise bad_request("The filter on tagName cannot be combined with other filters.", "InvalidFilterInQueryString")

    def predicate(resource: dict) -> bool:
        if "resourcetype" in clauses and resource["type"].lower() != clauses["resourcetype"].lower():
            return False
        if "resourcegroup" in clauses and resource["id"].split("/")[4].lower() != clauses["resourcegroup"].lower():
            return False
        if "tagname" in clauses:
            tags = {k.lower(): v for k, v in (resource.get("tags") or {}).items()}
            if clauses["tagname"].lower() not in tags:
                return False
            if "tagvalue" in clauses and tags[clauses["tagname"].lower()] != clauses["tagvalue"]:
                return False
        return True

    return predicate


def _clause(text: str) -> tuple[str, str]:
    match = _FILTER_CLAUSE.fullmatch(text)
    if not match or match.group(1).lower() not in ("resourcetype", "tagname", "tagvalue", "resourcegroup"):
        raise bad_request(f"Invalid $filter clause '{text.strip()[:100]}'.", "InvalidFilterInQueryString")
    return match.group(1).lower(), match.group(2).replace("''", "'")
