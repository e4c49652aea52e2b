"""ARM's subscription system-topic events for successful writes, deletes and actions (FACTS.md section 5)."""

from __future__ import annotations

from emulator.events import EventLog
from emulator.http import Request
from emulator.identity import Identity


class ResourceEvents:
    """Shapes `httpRequest` and the caller's identity as ARM does, then hands the event to the event log."""

    def __init__(self, log: EventLog):
        self._log = log

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
    ) -> None:
        http_request = None
        if updated:
            http_request = {
                "clientRequestId": (request.header("x-ms-client-request-id") if request else None) or "",
                "clientIpAddress": "127.0.0.1",
                "method": method or (request.method if request else "DELETE"),
                "url": f"https://management.azure.com{subject}",
            }
        subscription_id = subject.split("/")[2]
        principal = {"object_id": identity.principal.object_id, "client_id": identity.principal.client_id}
        self._log.emit(event_type, subject, operation, subscription_id, principal, http_request)

    def emit_as(self, event_type: str, subject: str, operation: str, identity: Identity) -> None:
        """For writes a resource provider makes on its own (e.g. Service Connector enabling OIDC)."""
        self.emit(event_type, subject, operation, None, identity, updated=True, method="PUT")
