"""Deterministic names: our linkers, and the Kubernetes objects Service Connector derives from them."""

from __future__ import annotations

import hashlib
import re

from shared.core import catalogue
from shared.core.ids import ResourceRef
from shared.core.model import OWNED_PREFIX, Connection

LINKER_PATTERN = re.compile(r"^[A-Za-z0-9._]{1,60}$")
_HASH_LENGTH = 16  # 64 bits
_LEGACY_HASH_LENGTH = 10  # the 40 bits of names given before; such linkers keep their name (see is_ours)
_MAX_LINKER = 60


def linker_name(target: ResourceRef, namespace: str, hash_length: int = _HASH_LENGTH) -> str:
    """`scap_<hash of target+namespace>_<target name>`: unique per cluster, stable, valid for Service Connector.

    The hash sits at a fixed place with a fixed length, so the secret names Service Connector derives by
    dropping every non-alphanumeric character cannot collide either. All lower case, so that secret name is a
    valid Kubernetes name whether or not Service Connector lower-cases it (which nobody has observed).
    """
    digest = hashlib.sha256(f"{target.id.lower()}|{namespace}".encode()).hexdigest()[:hash_length]
    readable = re.sub(r"[^a-z0-9]", "", _readable(target).lower())
    return f"{OWNED_PREFIX}{digest}_{readable}"[:_MAX_LINKER].rstrip("_")


def _readable(target: ResourceRef) -> str:
    """The name a person knows the target by: the resource they tagged (`stshop`, not `default` for a storage
    account's blob service, nor `0` for a Redis database), then the sub-resource's own name when it has one."""
    tagged = catalogue.tagged_id(target.id)
    if tagged is None or tagged.lower() == target.id.lower():
        return target.name
    own = target.name if target.name != "default" and not target.name.isdigit() else ""
    return ResourceRef(tagged).name + own


def legacy_linker_name(target: ResourceRef, namespace: str) -> str:
    """The name linkers were given with a 40-bit hash. They are never renamed (a rename would delete the
    secret running pods read and create another): an existing one stays the intent's linker."""
    return linker_name(target, namespace, _LEGACY_HASH_LENGTH)


def is_ours(connection: Connection) -> bool:
    """A linker is ours only if its name is the one we derive from its own target and namespace: the `scap_`
    prefix alone proves nothing (anyone may name a linker so), nor does a name whose target was edited."""
    if not connection.name.startswith(OWNED_PREFIX):
        return False
    try:
        target = ResourceRef.parse(connection.target_id)
    except ValueError:
        return False
    names = (linker_name(target, connection.namespace), legacy_linker_name(target, connection.namespace))
    return connection.name in names


def secret_name(linker: str) -> str:
    """Service Connector's secret for a linker: `sc-<alphanumerics of the name>-secret` (FACTS section 2).

    Lower-cased because Kubernetes names must be (INFERRED: Service Connector's own helper keeps case; our own
    linker names are lower case, so this only matters for a `scap_` linker someone else named).
    """
    return f"sc-{re.sub(r'[^A-Za-z0-9]', '', linker)}-secret".lower()


def service_account_name(client_id: str) -> str:
    return f"sc-account-{client_id}"


def is_service_connector_secret(name: str) -> bool:
    return name.startswith("sc-") and name.endswith("-secret")
