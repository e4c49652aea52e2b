"""ARM's subscription system-topic events for successful writes, deletes and actions (FACTS.md section 5)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from emulator.events import EventLog
from emulator.http import Request
from emulator.identity import ARM_AUDIENCE, Identity, TokenService

TENANT_CLAIM = "http://schemas.microsoft.com/identity/claims/tenantid"
OBJECT_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
# The claims ARM copies from the caller's token into `data.claims` (FACTS.md section 10), values as strings.
EVENT_CLAIMS = ("aud", "iss", "iat", "nbf", "exp", "appid", "appidacr", "oid", "uti", "ver")

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
ACTION = "Microsoft.Resources.ResourceActionSuccess"


def resource_provider_of(resource_id: str) -> str:
    segments = resource_id.split("/")
    lowered = [s.lower() for s in segments]
    if "providers" in lowered:
        last = len(lowered) - 1 - lowered[::-1].index("providers")
        return segments[last + 1]
    return "Microsoft.Resources"


class ResourceEvents:
    """Shapes ARM's event (`data` with the caller's claims and `httpRequest`) and publishes it on the event log."""

    def __init__(self, log: EventLog, tokens: TokenService):
        self._log = log
        self._tokens = tokens

    def emit(
        self,
        event_type: str,
        subject: str,
        operation: str,
        request: Request | None,
        identity: Identity,
        *,
        updated: bool,
        method: str | None = None,
        api_version: str | None = None,
    ) -> dict:
        subscription_id = subject.split("/")[2]
        data = {
            "authorization": {"scope": subject, "action": operation, "evidence": {"role": "emulated"}},
            "claims": self._claims(request, identity),
            "correlationId": str(uuid.uuid4()),
            "operationName": operation,
            "resourceProvider": resource_provider_of(subject),
            "resourceUri": subject,
            "status": "Succeeded",
            "subscriptionId": subscription_id,
            "tenantId": self._tokens.tenant_id,
        }
        if updated:
            data["httpRequest"] = {
                "clientRequestId": (request.header("x-ms-client-request-id") if request else None) or "",
                "clientIpAddress": "127.0.0.1",
                "method": method or (request.method if request else "DELETE"),
                "url": _url(subject, request, api_version),
            }
        return self._log.publish(
            {
                "id": str(uuid.uuid4()),
                "topic": f"/subscriptions/{subscription_id}",
                "subject": subject,
                "eventType": event_type,
                "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "data": data,
                "dataVersion": "2",
                "metadataVersion": "1",
            }
        )

    def emit_as(self, event_type: str, subject: str, operation: str, identity: Identity, api_version: str) -> dict:
        """For writes a resource provider makes on its own (e.g. Service Connector enabling OIDC)."""
        return self.emit(
            event_type, subject, operation, None, identity, updated=True, method="PUT", api_version=api_version
        )

    def _claims(self, request: Request | None, identity: Identity) -> dict[str, str]:
        """The caller's token claims; a provider acting on its own carries the caller's identity in a fresh set."""
        claims = (request.claims if request else None) or self._tokens.claims(identity.principal, ARM_AUDIENCE)
        event = {name: str(claims[name]) for name in EVENT_CLAIMS if name in claims}
        return {**event, TENANT_CLAIM: str(claims.get("tid", "")), OBJECT_CLAIM: str(claims.get("oid", ""))}


def _url(subject: str, request: Request | None, api_version: str | None) -> str:
    """`httpRequest.url` as ARM records it: the public endpoint, the path and the query (`?api-version=...`)."""
    query = dict(request.query) if request else {}
    if api_version and "api-version" not in query:
        query["api-version"] = api_version
    path = request.path if request else subject
    return f"https://management.azure.com{path}" + (f"?{urlencode(query)}" if query else "")
