"""In-memory ARM resources, keyed case-insensitively by resource id as ARM treats them."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

PROVIDER_STATES = ("Registered", "NotRegistered", "Registering", "Unregistered")


@dataclass
class Subscription:
    id: str
    display_name: str
    providers: dict[str, str] = field(default_factory=dict)  # lower-case namespace -> registrationState
    provider_names: dict[str, str] = field(default_factory=dict)  # lower-case -> display spelling

    def provider_state(self, namespace: str) -> str:
        # Providers a scenario does not mention are registered, as on a subscription in use.
        return self.providers.get(namespace.lower(), "Registered")

    def set_provider(self, namespace: str, state: str) -> None:
        self.providers[namespace.lower()] = state
        self.provider_names.setdefault(namespace.lower(), namespace)


class ArmStore:
    """Resources as ARM returns them (id, name, type, location, tags, properties, ...)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.subscriptions: dict[str, Subscription] = {}
        self._resources: dict[str, dict] = {}
        self._times: dict[str, tuple[str, str]] = {}  # id -> (createdTime, changedTime), what `$expand` shows

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id.lower())

    def add_subscription(self, subscription: Subscription) -> None:
        self.subscriptions[subscription.id.lower()] = subscription

    def get(self, resource_id: str) -> dict | None:
        with self.lock:
            return self._resources.get(resource_id.lower())

    def put(self, resource: dict) -> dict:
        key = resource["id"].lower()
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        with self.lock:
            self._resources[key] = resource
            self._times[key] = (self._times.get(key, (now, now))[0], now)
            return resource

    def times(self, resource_id: str) -> tuple[str, str]:
        """(createdTime, changedTime) of a stored resource."""
        with self.lock:
            return self._times[resource_id.lower()]

    def delete(self, resource_id: str) -> list[dict]:
        """Delete a resource and everything beneath it (children, extension resources); return them."""
        key = resource_id.lower()
        with self.lock:
            doomed = [k for k in self._resources if k == key or k.startswith(key + "/")]
            for k in doomed:
                self._times.pop(k, None)
            return [self._resources.pop(k) for k in doomed]

    def children(self, parent_id: str, resource_type: str) -> list[dict]:
        """Direct children of one type: nested (`{parent}/databases/x`) or extension (`{parent}/providers/...`)."""
        parent, wanted = parent_id.lower(), resource_type.lower()
        with self.lock:
            return [r for k, r in self._resources.items() if r["type"].lower() == wanted and parent_of(k) == parent]

    def of_type_under(self, scope_id: str, resource_type: str) -> list[dict]:
        wanted = resource_type.lower()
        return [r for r in self.under(scope_id) if r["type"].lower() == wanted]

    def under(self, scope_id: str) -> list[dict]:
        prefix = scope_id.lower().rstrip("/") + "/"
        with self.lock:
            return [r for k, r in self._resources.items() if k.startswith(prefix)]

    def snapshot(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(list(self._resources.values()))


def parent_of(resource_id: str) -> str:
    """The id a resource hangs under: its parent resource, or the scope of an extension resource."""
    parent = resource_id.rsplit("/", 2)[0]
    segments = parent.split("/")
    if len(segments) >= 2 and segments[-2].lower() == "providers":
        parent = "/".join(segments[:-2])
    return parent
