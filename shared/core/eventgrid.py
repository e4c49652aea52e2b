"""Event Grid / CloudEvents -> the resource an event hints at. Events are hints, never state.

Total: any input yields either an `EventHint` or an `Ignored` with the reason (logged at debug).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.core import catalogue
from shared.core.ids import CLUSTER_TYPE

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
TAGS_SUFFIX = "/providers/microsoft.resources/tags/default"
TAGS_OPERATION = "microsoft.resources/tags/write"
MAX_EVENT_BYTES = 1_048_576

# Resource types we act on, by lower-case type (clusters and every type the catalogue tags); the operations Event
# Grid names for them (the Event Grid subscription's filter, infra/modules/events.bicep, lists exactly these).
HANDLED_TYPES = (CLUSTER_TYPE, *catalogue.TAGGED_TYPES)
HANDLED_OPERATIONS = tuple(
    sorted(
        [f"Microsoft.ContainerService/managedClusters/{verb}" for verb in ("write", "delete")]
        + list(catalogue.handled_operations())
        + ["Microsoft.Resources/tags/write"]
    )
)
HANDLED_EVENT_TYPES = (WRITE, DELETE)


class SecretEvent(StrEnum):
    """What a vault's system topic says about a secret version (docs/FACTS.md section 10)."""

    NEW_VERSION = "Microsoft.KeyVault.SecretNewVersionCreated"
    NEAR_EXPIRY = "Microsoft.KeyVault.SecretNearExpiry"
    EXPIRED = "Microsoft.KeyVault.SecretExpired"


SECRET_EVENT_TYPES = tuple(SecretEvent)
_VAULT_NAME = re.compile(r"[A-Za-z0-9-]{3,24}")
_SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")
_VERSION = re.compile(r"[0-9A-Za-z]{1,64}")

# Applied with fullmatch (`$` would let a trailing newline through). No empty segment and no `.`/`..` segment:
# an HTTP client resolves those, so the id would name something else than it says.
_NAME = r"(?!\.+(?:/|\Z))[A-Za-z0-9._-]+"
_RESOURCE_ID = re.compile(
    r"/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>(?!\.+/)[-\w._()]{1,90})"
    rf"/providers/(?P<ns>[A-Za-z0-9.]+)/(?P<rest>{_NAME}(?:/{_NAME})*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EventHint:
    """Something changed at `resource_id`: reconcile the scope it belongs to."""

    resource_id: str
    resource_type: str  # lower-case ARM type
    deleted: bool
    event_id: str
    correlation_id: str
    operation: str


@dataclass(frozen=True)
class SecretHint:
    """A vault says something about one secret: reconcile the clusters whose targets read it (by any URL naming it).
    The version it names is a hint too: the reconcile reads the vault's current version itself."""

    vault: str  # lower-case vault name
    name: str  # lower-case secret name (Key Vault names are case-insensitive)
    version: str
    event: SecretEvent
    event_id: str
    expires: int | None = None  # unix seconds, the version's `exp` as the event carries it


@dataclass(frozen=True)
class Ignored:
    reason: str
    event_id: str = ""


def decode(payload: bytes | str | Any) -> list[Any]:
    """Raw body (EventGrid array, one CloudEvent, or a batch of CloudEvents) -> a list of event dicts."""
    if isinstance(payload, bytes | str):
        if len(payload) > MAX_EVENT_BYTES:
            raise ValueError(f"event payload is {len(payload)} bytes; the limit is {MAX_EVENT_BYTES}")
        try:
            payload = json.loads(payload)
        except RecursionError:  # `[[[[...`: well within the size limit, too deep for the parser
            raise ValueError("event payload is nested too deeply") from None
    return payload if isinstance(payload, list) else [payload]


def parse_event(event: Any) -> EventHint | SecretHint | Ignored:
    """One event in EventGrid or CloudEvents 1.0 schema."""
    if not isinstance(event, dict):
        return Ignored("not a JSON object")
    event_id = _text(event.get("id"))
    event_type = _text(event.get("eventType") or event.get("type"))
    subject = _text(event.get("subject"))
    data = event.get("data")
    if event_type in SECRET_EVENT_TYPES:
        return _secret_hint(SecretEvent(event_type), subject, data, event_id)
    if event_type not in HANDLED_EVENT_TYPES:
        return Ignored(f"event type {event_type[:100]!r} is not handled", event_id)
    if not isinstance(data, dict):
        return Ignored("event has no data object", event_id)
    operation = _text(data.get("operationName")).lower()
    if data.get("status") not in (None, "Succeeded"):
        return Ignored(f"status {_text(data.get('status'))[:40]!r} is not Succeeded", event_id)
    resource_id = subject or _text(data.get("resourceUri"))
    if operation == TAGS_OPERATION:
        if not resource_id.lower().endswith(TAGS_SUFFIX):
            return Ignored("tags write whose subject is not <id>/providers/Microsoft.Resources/tags/default", event_id)
        resource_id = resource_id[: -len(TAGS_SUFFIX)]
    match = _RESOURCE_ID.fullmatch(resource_id)
    if match is None:
        return Ignored(f"subject {resource_id[:200]!r} is not a resource id", event_id)
    resource_type = resource_type_of(match.group("ns"), match.group("rest"))
    if resource_type not in HANDLED_TYPES:
        return Ignored(f"resource type {resource_type[:200]!r} is not handled", event_id)
    if operation != TAGS_OPERATION and operation not in (f"{resource_type}/write", f"{resource_type}/delete"):
        return Ignored(f"operation {operation[:100]!r} does not match the subject's type", event_id)
    return EventHint(
        resource_id=resource_id,
        resource_type=resource_type,
        deleted=event_type == DELETE and operation.endswith("/delete"),
        event_id=event_id,
        correlation_id=_text(data.get("correlationId")),
        operation=operation,
    )


def _secret_hint(event: SecretEvent, subject: str, data: Any, event_id: str) -> SecretHint | Ignored:
    """A Key Vault secret event: `data` keys matched case-insensitively and trimmed, values trimmed (the documented
    sample has stray spaces in both). The secret is named by `ObjectName` (or the subject), its vault by
    `VaultName`."""
    if not isinstance(data, dict):
        return Ignored("event has no data object", event_id)
    fields = {str(k).strip().lower(): v.strip() if isinstance(v, str) else v for k, v in data.items()}
    if _text(fields.get("objecttype")).lower() not in ("", "secret"):
        return Ignored(f"object type {_text(fields.get('objecttype'))[:40]!r} is not a secret", event_id)
    vault = _text(fields.get("vaultname"))
    name = _text(fields.get("objectname")) or subject.strip()
    version = _text(fields.get("version"))
    if not _VAULT_NAME.fullmatch(vault) or not _SECRET_NAME.fullmatch(name):
        return Ignored(f"vault {vault[:40]!r} / secret {name[:130]!r} is not a Key Vault secret", event_id)
    if version and not _VERSION.fullmatch(version):
        return Ignored(f"version {version[:70]!r} is not a Key Vault version", event_id)
    expires = fields.get("exp")
    expires = int(expires) if isinstance(expires, int | float) and not isinstance(expires, bool) else None
    return SecretHint(vault.lower(), name.lower(), version, event, event_id, expires)


def resource_type_of(namespace: str, rest: str) -> str:
    """`Microsoft.Sql` + `servers/s/databases/d` -> `microsoft.sql/servers/databases`."""
    segments = [s for s in rest.split("/") if s]
    if len(segments) % 2:
        return ""
    return "/".join([namespace, *segments[0::2]]).lower()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
