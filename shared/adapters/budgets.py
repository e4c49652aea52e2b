"""App-wide counters in the app's storage account (Azurite locally): every invocation of every instance, and the
CLI when it has AzureWebJobsStorage, spends from the same budgets. Each counter is one small JSON blob in the
`sc-state` container, read with its ETag and written back only if unchanged (If-Match; If-None-Match for the first
write); a lost race re-reads and decides again, so N instances cannot overspend a budget."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.adapters.storage import storage_clients
from shared.config import StorageSettings
from shared.core.policy import spend_in_window

STATE_CONTAINER = "sc-state"
REMOVALS_BLOB = "budgets/removals-per-hour.json"
MAX_RACES = 50  # lost races in a row before giving up (each one means another instance spent meanwhile)
T = TypeVar("T")


class BudgetRaceError(RuntimeError):
    """Too many instances raced for one counter; the invocation fails and the platform retries it."""


class BlobCounters:
    def __init__(self, blobs: BlobServiceClient):
        self.container: ContainerClient = blobs.get_container_client(STATE_CONTAINER)
        self._created = False

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> BlobCounters:
        return cls(storage_clients(settings)[0])

    def update(self, name: str, change: Callable[[dict], tuple[dict | None, T]]) -> T:
        """Read-modify-write of one JSON blob under its ETag. `change(state) -> (new state, result)`; a new state
        of None writes nothing. On a lost race `change` runs again on the fresh state."""
        self._ensure_container()
        blob = self.container.get_blob_client(name)
        for _ in range(MAX_RACES):
            try:
                download = blob.download_blob()
                state, etag = json.loads(download.readall()), download.properties.etag
            except ResourceNotFoundError:
                state, etag = {}, None
            new, result = change(state)
            if new is None:
                return result
            body = json.dumps(new).encode()
            try:
                if etag is None:
                    blob.upload_blob(body, overwrite=False)
                else:
                    blob.upload_blob(body, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
                return result
            except (ResourceModifiedError, ResourceExistsError):
                continue  # another instance wrote first: decide again on what it left
        raise BudgetRaceError(f"{name}: {MAX_RACES} writes in a row lost the race; retried by the platform")

    def _ensure_container(self) -> None:
        if not self._created:
            with contextlib.suppress(ResourceExistsError):
                self.container.create_container()
            self._created = True


class BlobWindow:
    """The sliding-hour removal budget of the whole Function App (see run.Window)."""

    def __init__(self, counters: BlobCounters, clock: Callable[[], float] = time.time):
        self.counters = counters
        self.clock = clock

    def spend(self, wanted: int, cap: int, force: bool = False) -> bool:
        def change(state: dict) -> tuple[dict | None, bool]:
            admitted, kept = spend_in_window(state.get("spends", []), self.clock(), wanted, cap, force)
            return ({"spends": kept} if admitted and wanted else None), admitted

        return self.counters.update(REMOVALS_BLOB, change)

    def left(self, cap: int) -> int:
        spent = self.counters.update(REMOVALS_BLOB, lambda state: (None, state.get("spends", [])))
        _, kept = spend_in_window(spent, self.clock(), 0, cap)
        return max(0, cap - sum(count for _, count in kept))


class BlobAllowance:
    """A count one fanned-out run may spend across all its invocations (the orphan cap; see run.Allowance)."""

    def __init__(self, counters: BlobCounters, run: str, what: str, total: int):
        self.counters = counters
        self.name = f"runs/{run}/{what}.json"
        self.total = total

    def reserve(self, plan: Callable[[int], tuple[T, int]]) -> T:
        def change(state: dict) -> tuple[dict | None, T]:
            used = int(state.get("used", 0))
            planned, spent = plan(max(0, self.total - used))
            return ({"used": used + spent} if spent else None), planned

        return self.counters.update(self.name, change)

    def take(self, wanted: int = 1) -> int:
        return self.reserve(lambda left: (min(wanted, left), min(wanted, left)))
