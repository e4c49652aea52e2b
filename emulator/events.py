"""Event Grid subscription system-topic events for ARM writes and deletes, plus webhook delivery."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
import uuid
from datetime import UTC, datetime

log = logging.getLogger("emulator.events")

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


class EventLog:
    """Keeps every emitted event (EventGrid schema) and pushes each to the subscribed webhooks."""

    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self.webhooks: list[tuple[str, str]] = []  # (url, schema)
        self._outbox: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._deliver_forever, name="emulator:events", daemon=True).start()

    def emit(
        self,
        event_type: str,
        subject: str,
        operation_name: str,
        subscription_id: str,
        principal: dict,
        http_request: dict | None,
    ) -> dict:
        correlation_id = str(uuid.uuid4())
        data = {
            "authorization": {"scope": subject, "action": operation_name, "evidence": {"role": "emulated"}},
            "claims": {
                "aud": "https://management.azure.com",
                "http://schemas.microsoft.com/identity/claims/objectidentifier": principal.get("object_id", ""),
                "appid": principal.get("client_id", ""),
            },
            "correlationId": correlation_id,
            "operationName": operation_name,
            "resourceProvider": resource_provider_of(subject),
            "resourceUri": subject,
            "status": "Succeeded",
            "subscriptionId": subscription_id,
            "tenantId": self.tenant_id,
        }
        if http_request is not None:
            data["httpRequest"] = http_request
        event = {
            "id": str(uuid.uuid4()),
            "topic": f"/subscriptions/{subscription_id}",
            "subject": subject,
            "eventType": event_type,
            "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": data,
            "dataVersion": "2",
            "metadataVersion": "1",
        }
        with self._lock:
            self._events.append(event)
        if self.webhooks:
            self._outbox.put(event)
        return event

    def listing(self, schema: str = "eventgrid", since: int = 0) -> list[dict]:
        with self._lock:
            events = list(self._events[since:])
        return [to_cloudevent(e) for e in events] if schema == "cloudevents" else events

    def _deliver_forever(self) -> None:
        while True:
            event = self._outbox.get()
            for url, schema in list(self.webhooks):
                if schema == "cloudevents":
                    body, content_type = to_cloudevent(event), "application/cloudevents+json"
                else:
                    body, content_type = [event], "application/json"
                request = urllib.request.Request(  # noqa: S310 - webhook URLs come from the scenario
                    url,
                    data=json.dumps(body).encode(),
                    headers={"Content-Type": content_type, "aeg-event-type": "Notification"},
                    method="POST",
                )
                try:
                    urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 - loopback webhook
                except OSError as error:
                    log.warning("webhook %s did not take event %s: %s", url, event["id"], error)


def to_cloudevent(event: dict) -> dict:
    """The same event in CloudEvents 1.0 schema, as Event Grid renders it."""
    return {
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "data": event["data"],
        "specversion": "1.0",
    }
