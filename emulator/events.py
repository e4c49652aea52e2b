"""Event Grid as the emulator needs it: every published event kept for inspection and pushed to webhooks.

What an event says is its publisher's business (ARM's subscription topic: `arm/notify.py`; a vault's system
topic: `keyvault.py`); this module only keeps, renders (EventGrid or CloudEvents 1.0 schema) and delivers.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
from dataclasses import asdict, dataclass

log = logging.getLogger("emulator.events")

SCHEMAS = ("eventgrid", "cloudevents")


@dataclass(frozen=True)
class Webhook:
    """An event subscription: one endpoint, one schema, one topic (a subscription's or a vault's)."""

    url: str
    schema: str = "eventgrid"
    topic: str | None = None  # None: every subscription's system topic (ARM's resource events)

    def __post_init__(self) -> None:
        if self.schema not in SCHEMAS:
            raise ValueError(f"schema must be one of {SCHEMAS}, not {self.schema!r}")

    def wants(self, event: dict) -> bool:
        topic = event["topic"].lower()
        if self.topic is None:
            return topic.startswith("/subscriptions/") and topic.count("/") == 2
        return topic == self.topic.lower()

    def to_dict(self) -> dict:
        return asdict(self)


class EventLog:
    """Keeps every published event (EventGrid schema) and pushes each to the webhooks subscribed to its topic."""

    def __init__(self) -> None:
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self.webhooks: list[Webhook] = []
        self._outbox: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._deliver_forever, name="emulator:events", daemon=True).start()

    def publish(self, event: dict) -> dict:
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
            for hook in [h for h in list(self.webhooks) if h.wants(event)]:
                if hook.schema == "cloudevents":
                    body, content_type = to_cloudevent(event), "application/cloudevents+json"
                else:
                    body, content_type = [event], "application/json"
                request = urllib.request.Request(  # noqa: S310 - webhook URLs come from the scenario
                    hook.url,
                    data=json.dumps(body).encode(),
                    headers={"Content-Type": content_type, "aeg-event-type": "Notification"},
                    method="POST",
                )
                try:
                    urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 - loopback webhook
                except OSError as error:
                    log.warning("webhook %s did not take event %s: %s", hook.url, event["id"], error)


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
