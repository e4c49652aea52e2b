"""ARM's subscription system-topic events for successful writes, deletes and actions (FACTS.md section 5)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from emulator.events import EventLog
from emulator.http import Request
from emulator.identity import Identity

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

    def __init__(self, log: EventLog, tenant_id: str):
        self._log = log
        self._tenant_id = tenant_id

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
    ) -> dict:
        subscription_id = subject.split("/")[2]
        data = {
            "authorization": {"scope": subject, "action": operation, "evidence": {"role": "emulated"}},
            "claims": {
                "aud": "https://management.azure.com",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": identity.principal.object_id,
                "appid": identity.principal.client_id,
            },
            "correlationId": str(uuid.uuid4()),
            "operationName": operation,
            "resourceProvider": resource_provider_of(subject),
            "resourceUri": subject,
            "status": "Succeeded",
            "subscriptionId": subscription_id,
            "tenantId": self._tenant_id,
        }
        if updated:
            data["httpRequest"] = {
                "clientRequestId": (request.header("x-ms-client-request-id") if request else None) or "",
                "clientIpAddress": "127.0.0.1",
                "method": method or (request.method if request else "DELETE"),
                "url": f"https://management.azure.com{subject}",
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

    def emit_as(self, event_type: str, subject: str, operation: str, identity: Identity) -> dict:
        """For writes a resource provider makes on its own (e.g. Service Connector enabling OIDC)."""
        return self.emit(event_type, subject, operation, None, identity, updated=True, method="PUT")
