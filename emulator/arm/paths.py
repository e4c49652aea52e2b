"""Parse ARM request paths into what they address: a resource, a collection, an action, a provider."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Target(Enum):
    TENANTS = "tenants"  # GET /tenants
    SUBSCRIPTIONS = "subscriptions"  # GET /subscriptions
    SUBSCRIPTION = "subscription"  # GET /subscriptions/{s}
    RESOURCE = "resource"  # GET/PUT/PATCH/DELETE one resource
    COLLECTION = "collection"  # GET a list of one type under a scope
    ACTION = "action"  # POST {resource}/{action}
    RESOURCES_LIST = "resources_list"  # GET {scope}/resources ($filter)
    PROVIDER = "provider"  # GET /subscriptions/{s}/providers/{ns}
    PROVIDER_ACTION = "provider_action"  # POST .../providers/{ns}/register
    OPERATION = "operation"  # GET .../locations/{loc}/operationStatuses|operationResults/{id}
    RESOURCE_GRAPH = "resource_graph"  # POST /providers/Microsoft.ResourceGraph/resources


@dataclass(frozen=True)
class ArmPath:
    target: Target
    subscription_id: str
    id: str  # the addressed resource id (or the scope a collection/list lives under)
    type: str = ""  # e.g. Microsoft.Sql/servers/databases (for RESOURCE, COLLECTION, ACTION)
    action: str = ""
    namespace: str = ""  # provider namespace for PROVIDER*, OPERATION
    resource_group: str | None = None

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]


def parse(path: str, method: str) -> ArmPath | None:
    """None when the path is not an ARM path at all."""
    segments = [s for s in path.split("/") if s]
    if [s.lower() for s in segments] in (["tenants"], ["subscriptions"]):
        target = Target.TENANTS if segments[0].lower() == "tenants" else Target.SUBSCRIPTIONS
        return ArmPath(target, "", "/" + segments[0])
    if [s.lower() for s in segments] == ["providers", "microsoft.resourcegraph", "resources"] and method == "POST":
        return ArmPath(Target.RESOURCE_GRAPH, "", "/" + "/".join(segments))
    if len(segments) < 2 or segments[0].lower() != "subscriptions":
        return None
    sub = segments[1]
    scope = f"/subscriptions/{sub}"
    rest = segments[2:]
    if not rest:
        return ArmPath(Target.SUBSCRIPTION, sub, scope)
    head = rest[0].lower()
    if head == "resources" and len(rest) == 1:
        return ArmPath(Target.RESOURCES_LIST, sub, scope)
    if head == "providers":
        return _subscription_provider(sub, scope, rest[1:], method)
    if head != "resourcegroups":
        return None
    if len(rest) == 1:
        return ArmPath(Target.COLLECTION, sub, scope, type="Microsoft.Resources/resourceGroups")
    rg = rest[1]
    rg_id = f"{scope}/resourceGroups/{rg}"
    tail = rest[2:]
    if not tail:
        return ArmPath(Target.RESOURCE, sub, rg_id, type="Microsoft.Resources/resourceGroups", resource_group=rg)
    if tail[0].lower() == "resources" and len(tail) == 1:
        return ArmPath(Target.RESOURCES_LIST, sub, rg_id, resource_group=rg)
    if tail[0].lower() != "providers":
        return None
    return _provider_chain(sub, rg_id, tail, method, rg)


def _subscription_provider(sub: str, scope: str, rest: list[str], method: str) -> ArmPath | None:
    if not rest:
        return ArmPath(Target.COLLECTION, sub, scope, type="Microsoft.Resources/providers")
    namespace = rest[0]
    tail = rest[1:]
    if not tail:
        return ArmPath(Target.PROVIDER, sub, f"{scope}/providers/{namespace}", namespace=namespace)
    if len(tail) == 1 and method == "POST":
        return ArmPath(
            Target.PROVIDER_ACTION, sub, f"{scope}/providers/{namespace}", action=tail[0], namespace=namespace
        )
    if (
        len(tail) == 4
        and tail[0].lower() == "locations"
        and tail[2].lower() in ("operationstatuses", "operationresults")
    ):
        return ArmPath(
            Target.OPERATION,
            sub,
            "/".join(["", "subscriptions", sub, "providers", namespace, *tail]),
            action=tail[3],
            namespace=namespace,
        )
    if len(tail) == 1:
        return ArmPath(Target.COLLECTION, sub, scope, type=f"{namespace}/{tail[0]}")
    return None


def _provider_chain(sub: str, scope_id: str, tail: list[str], method: str, rg: str | None) -> ArmPath | None:
    """Walk `providers/{ns}/{type}/{name}/...` segments, including extension resources on a resource."""
    current_id = scope_id
    current_type = ""
    index = 0
    while index < len(tail):
        if tail[index].lower() != "providers" or index + 1 >= len(tail):
            return None
        namespace = tail[index + 1]
        index += 2
        pairs = []
        while index < len(tail) and tail[index].lower() != "providers":
            pairs.append(tail[index])
            index += 1
        if not pairs:
            return None
        types = pairs[0::2]
        names = pairs[1::2]
        full_type = "/".join([namespace, *types])
        if len(types) > len(names):  # odd tail: a collection (GET) or an action (POST)
            if index < len(tail):
                return None
            if method == "POST" and names:
                action_type = "/".join([namespace, *types[:-1]])
                resource_id = current_id + "/providers/" + namespace + "/" + "/".join(pairs[:-1])
                return ArmPath(Target.ACTION, sub, resource_id, type=action_type, action=types[-1], resource_group=rg)
            parent = current_id + ("/providers/" + namespace + "/" + "/".join(pairs[:-1]) if names else "")
            return ArmPath(Target.COLLECTION, sub, parent, type=full_type, resource_group=rg)
        current_id = current_id + "/providers/" + namespace + "/" + "/".join(pairs)
        current_type = full_type
    return ArmPath(Target.RESOURCE, sub, current_id, type=current_type, resource_group=rg)
