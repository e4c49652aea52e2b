"""Who allowed what: each owner whose resource sc-autopilot reaches consents where they hold rights. Pure.

`sc-group` only routes. A target's credentials go to a cluster only if the target's `sc-clusters` tag names it
(absent: clusters in the target's own resource group); anything is written into namespace N only if N's
`sc-autopilot.io/allowed-targets` annotation names the target; a user-assigned identity is federated only to the
clusters its `sc-clusters` tag names (absent: its own resource group) and only into the namespaces its
`sc-namespaces` tag lists; a Key Vault secret's value goes into a connection only if that version's `sc-targets`
tag names the target. Scopes are `/subscriptions/<id>`, `/subscriptions/<id>/resourceGroups/<rg>` or a resource
id, comma separated, matched case-insensitively on whole path segments. Every refusal is a CONSENT_MISSING
finding naming the object, the missing consent and the exact command that grants it.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef

ALLOWED_TARGETS = "sc-autopilot.io/allowed-targets"  # Namespace annotation: target scopes
CLUSTERS_TAG = "sc-clusters"  # on a target or an identity: cluster scopes
NAMESPACES_TAG = "sc-namespaces"  # on an identity: namespace names
TARGETS_TAG = "sc-targets"  # on a Key Vault secret (version): target scopes


def scopes(raw: object) -> tuple[tuple[str, ...], ...]:
    """The valid scopes of a comma-separated value, as lower-case path segments; anything else grants nothing."""
    if not isinstance(raw, str):
        return ()
    found = []
    for entry in raw.split(","):
        value = entry.strip().rstrip("/")
        parts = tuple(value.lower().split("/")[1:]) if value.startswith("/") else ()
        subscription = len(parts) == 2 and parts[0] == "subscriptions"
        group = len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups"
        if all(parts) and (subscription or group or _is_resource_id(value)):
            found.append(parts)
    return tuple(found)


def covers(raw: object, ref: ResourceRef) -> bool:
    """Whether any scope of `raw` contains `ref` (whole segments: rg-a never covers rg-ab)."""
    segments = tuple(ref.id.lower().split("/")[1:])
    return any(segments[: len(scope)] == scope for scope in scopes(raw))


def _is_resource_id(value: str) -> bool:
    try:
        ResourceRef.parse(value)
    except ValueError:
        return False
    return True


def _tag(tags: Mapping[str, str] | None, name: str) -> str | None:
    """Azure tag names are case-insensitive."""
    for key, value in (tags or {}).items():
        if isinstance(key, str) and key.strip().lower() == name:
            return value if isinstance(value, str) else ""
    return None


def resource_group_scope(ref: ResourceRef) -> str:
    return f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"


def _same_group(a: ResourceRef, b: ResourceRef) -> bool:
    return resource_group_scope(a).lower() == resource_group_scope(b).lower()


def _appended(current: str | None, scope: str) -> str:
    return f"{current.strip().rstrip(',')},{scope}" if current and current.strip() else scope


def _refused(resource: str, message: str, fix: str, tag: str) -> Finding:
    return Finding(Code.CONSENT_MISSING, resource, message, fix, tag)


def target_to_cluster(target: ResourceRef, tags: Mapping[str, str], cluster: ResourceRef) -> Finding | None:
    """The target's owner lets its credentials go to this cluster."""
    return _clusters_consent("target", target, tags, cluster, CLUSTERS_TAG)


def _clusters_consent(
    noun: str, owner: ResourceRef, tags: Mapping[str, str], cluster: ResourceRef, finding_tag: str
) -> Finding | None:
    """An owner's `sc-clusters` tag names the cluster; without the tag, clusters of the owner's resource group."""
    raw = _tag(tags, CLUSTERS_TAG)
    if covers(raw, cluster) if raw is not None else _same_group(owner, cluster):
        return None
    default = "" if raw is not None else " (without the tag: only clusters in its own resource group)"
    return _refused(
        owner.id,
        f"{noun} {owner.name} does not allow cluster {cluster.name}{default}",
        f"the {noun}'s owner runs: az tag update --operation merge --resource-id {owner.id} "
        f'--tags "{CLUSTERS_TAG}={_appended(raw, cluster.id)}"',
        finding_tag,
    )


def namespace_admits(
    namespaces: Mapping[str, Mapping[str, str]], namespace: str, target: ResourceRef, cluster: ResourceRef
) -> Finding | None:
    """The namespace's owner lets this target write into, and patch workloads in, the namespace. Service
    Connector would create a missing namespace: it must exist already (created by its owner)."""
    scope = resource_group_scope(target)
    if namespace not in namespaces:
        return _refused(
            target.id,
            f"namespace {namespace} does not exist on cluster {cluster.name}; sc-autopilot never creates one",
            f"the cluster's owner runs: kubectl create namespace {namespace} && kubectl annotate namespace "
            f"{namespace} {ALLOWED_TARGETS}={scope}",
            "sc-namespace",
        )
    raw = (namespaces[namespace] or {}).get(ALLOWED_TARGETS)
    if covers(raw, target):
        return None
    return _refused(
        target.id,
        f"namespace {namespace} on cluster {cluster.name} does not allow target {target.name}",
        f"the namespace's owner runs: kubectl annotate namespace {namespace} --overwrite "
        f"{ALLOWED_TARGETS}={_appended(raw, scope)}",
        "sc-namespace",
    )


def identity_in_scope(
    identity: ResourceRef, cluster: ResourceRef, managed_subscriptions: frozenset[str]
) -> Finding | None:
    """sc-autopilot never reaches an identity outside SC_SUBSCRIPTIONS (checked before the identity is read)."""
    if identity.subscription_id.lower() in managed_subscriptions:
        return None
    return _refused(
        cluster.id,
        f"identity {identity.name} is in subscription {identity.subscription_id}, outside SC_SUBSCRIPTIONS",
        "tag the cluster sc-identity=<an identity in a managed subscription>, or add its subscription to "
        "SC_SUBSCRIPTIONS",
        "sc-identity",
    )


def identity_admits(
    identity: ResourceRef, tags: Mapping[str, str], cluster: ResourceRef, namespace: str
) -> Finding | None:
    """The identity's owner lets it be federated to this cluster, into this namespace."""
    refused = _clusters_consent("identity", identity, tags, cluster, "sc-identity")
    if refused is not None:
        return refused
    listed = _tag(tags, NAMESPACES_TAG)
    if namespace in {n.strip().lower() for n in (listed or "").split(",")}:
        return None
    return _refused(
        identity.id,
        f"identity {identity.name} does not allow namespace {namespace}",
        f"the identity's owner runs: az tag update --operation merge --resource-id {identity.id} "
        f'--tags "{NAMESPACES_TAG}={_appended(listed, namespace)}"',
        "sc-identity",
    )


def vault_secret_admits(
    vault_url: str,
    name: str,
    version: str,
    tags: Mapping[str, str] | None,
    target: ResourceRef,
    tag: str = "sc-password",
) -> Finding | None:
    """The vault's owner lets this secret version's value go into this target's connection. `tag`: the target's tag
    that named the secret (sc-password, or its alias sc-sql-password), named in the finding."""
    raw = _tag(tags, TARGETS_TAG)
    if covers(raw, target):
        return None
    vault = vault_url.removeprefix("https://").split(".", 1)[0]
    return _refused(
        target.id,
        f"Key Vault secret {vault}/{name} (version {version}) does not allow target {target.name}",
        f"the vault's owner runs: az keyvault secret set-attributes --vault-name {vault} --name {name} "
        f'--version {version} --tags "{TARGETS_TAG}={_appended(raw, target.id)}"',
        tag,
    )
