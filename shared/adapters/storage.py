"""Sweeps that outgrow one invocation: one queue message per cluster, results in Blob Storage, the report
assembled by whichever invocation stores the last result. Azure Storage through AzureWebJobsStorage
(Azurite locally)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Self

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueServiceClient, TextBase64EncodePolicy

from shared import report as report_module
from shared.adapters.logs import get_logger
from shared.config import StorageSettings
from shared.core.codes import Code, Finding

SWEEP_QUEUE = "sc-sweep"
POISON_QUEUE = f"{SWEEP_QUEUE}-poison"  # where the Functions host moves a message after maxDequeueCount
RECONCILE_QUEUE = "sc-reconcile"  # deferred clusters, each message invisible until its requeue_after has passed
CONTAINER = "sc-reports"
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600  # Azure Storage's limit for a message's initial invisibility
log = get_logger("storage")


def storage_clients(settings: StorageSettings) -> tuple[BlobServiceClient, QueueServiceClient]:
    """Blob and queue clients for the Functions storage: a connection string (Azurite), or identity-based."""
    if settings.connection_string:
        return (BlobServiceClient.from_connection_string(settings.connection_string),
                QueueServiceClient.from_connection_string(settings.connection_string))  # fmt: skip
    credential = DefaultAzureCredential(managed_identity_client_id=settings.client_id)
    return (BlobServiceClient(settings.blob_service_uri, credential),
            QueueServiceClient(settings.queue_service_uri, credential))  # fmt: skip


class ReconcileQueue:
    """The delayed reconcile queue (controller-runtime's RequeueAfter on Azure Storage): a deferred cluster is
    reconciled again when its wait is over, by the `reconcile_later` queue trigger, instead of waiting for the
    next sweep or an Event Grid redelivery."""

    def __init__(self, queues: QueueServiceClient):
        self.queue = queues.get_queue_client(RECONCILE_QUEUE, message_encode_policy=TextBase64EncodePolicy())
        with contextlib.suppress(ResourceExistsError):
            self.queue.create_queue()

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> ReconcileQueue:
        return cls(storage_clients(settings)[1])

    def requeue(self, cluster_id: str, after_seconds: float, attempt: int = 1) -> None:
        """Enqueue the cluster, invisible for `after_seconds` (whether to requeue is shared.core.policy's call)."""
        delay = max(1, min(MAX_VISIBILITY_SECONDS, round(after_seconds)))
        self.queue.send_message(json.dumps({"cluster": cluster_id, "attempt": attempt}), visibility_timeout=delay)


class SweepStore:
    def __init__(self, blobs: BlobServiceClient, queues: QueueServiceClient):
        self.container = blobs.get_container_client(CONTAINER)
        self.queue = queues.get_queue_client(SWEEP_QUEUE, message_encode_policy=TextBase64EncodePolicy())
        for create in (self.container.create_container, self.queue.create_queue):
            with contextlib.suppress(ResourceExistsError):
                create()

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> SweepStore:
        return cls(*storage_clients(settings))

    # -- the fan-out -----------------------------------------------------------------------------------
    def start(self, clusters: list[str], dry_run: bool, now: datetime | None = None, estate: dict | None = None) -> str:
        """Record the run's manifest (and the estate listing, so no invocation lists it again), then enqueue one
        message per cluster."""
        now = now or datetime.now(UTC)
        run = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        manifest = {"run": run, "started": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "dryRun": dry_run, "clusters": clusters}
        if estate is not None:
            self._put(f"runs/{run}/estate.json", json.dumps(estate))
        self._put(f"runs/{run}/manifest.json", json.dumps(manifest))
        for index, cluster in enumerate(clusters):
            self.queue.send_message(json.dumps({"run": run, "cluster": cluster, "index": index}))
        return run

    def manifest(self, run: str) -> dict:
        return json.loads(self.container.download_blob(f"runs/{run}/manifest.json").readall())

    def estate(self, run: str) -> dict | None:
        """The estate listing the run started from, or None for runs started without one."""
        try:
            return json.loads(self.container.download_blob(f"runs/{run}/estate.json").readall())
        except ResourceNotFoundError:
            return None

    def record(self, run: str, index: int, fragment: dict) -> None:
        self._put(f"runs/{run}/clusters/{index:06d}.json", json.dumps(fragment))

    def record_failure(self, message: dict, reason: str) -> None:
        """A poison message still yields a result, with a finding, so the report completes and shows it."""
        finding = Finding(Code.SWEEP_FAILED, message.get("cluster", "?"),
                          f"sweeping this cluster failed repeatedly: {reason}",
                          "see the function logs for the run; the next scheduled sweep retries")  # fmt: skip
        run, index = message["run"], int(message.get("index", 0))
        fragment = self.fragment(run, index) or {"cluster": message.get("cluster", "?"), "connections": [],
                                                 "orphans": [], "findings": [], "changes": []}  # fmt: skip
        fragment["findings"] = [*fragment.get("findings", []), finding.to_dict()]  # what the last attempt saw stays
        self.record(run, index, fragment)

    def fragment(self, run: str, index: int) -> dict | None:
        try:
            return json.loads(self.container.download_blob(f"runs/{run}/clusters/{index:06d}.json").readall())
        except ResourceNotFoundError:
            return None

    def assemble_if_complete(self, run: str) -> str | None:
        """Write the report once every cluster has a result; idempotent. Returns its JSON blob path."""
        manifest = self.manifest(run)
        names = sorted(b.name for b in self.container.list_blobs(name_starts_with=f"runs/{run}/clusters/"))
        if len(names) < len(manifest["clusters"]):
            return None
        fragments = [json.loads(self.container.download_blob(name).readall()) for name in names]
        started = datetime.strptime(manifest["started"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        document = report_module.merge(fragments, started, manifest["dryRun"])
        base = f"reports/{started:%Y/%m/%d}/{run}"
        self._put(f"{base}.json", json.dumps(document, indent=2))
        self._put(f"{base}.html", report_module.to_html(document), "text/html")
        return f"{base}.json"

    def _put(self, name: str, text: str, content_type: str = "application/json") -> None:
        self.container.upload_blob(name, text.encode(), overwrite=True,
                                   content_settings=ContentSettings(content_type=content_type))  # fmt: skip

    def report(self, path: str) -> dict:
        try:
            return json.loads(self.container.download_blob(path).readall())
        except ResourceNotFoundError:
            return {}


INDEX_CONTAINER = "sc-index"
_BUILT = "linkers.built"  # written once a sweep has recorded every cluster: before, the index may miss holdings


def _key(resource_id: str) -> str:
    """A blob-name-safe key for an ARM id (ids hold slashes and are case-insensitive)."""
    return hashlib.sha256(resource_id.lower().encode()).hexdigest()[:32]


class _IndexBlobs:
    """The `sc-index` container of the app's storage account, created on the first write (building the app makes no
    call: a CLI whose storage does not answer still runs, without what the container would give it)."""

    def __init__(self, blobs: BlobServiceClient):
        self.container = blobs.get_container_client(INDEX_CONTAINER)
        self._created = False

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> Self:
        return cls(storage_clients(settings)[0])

    def _ensure_container(self) -> None:
        if not self._created:
            with contextlib.suppress(ResourceExistsError):
                self.container.create_container()
            self._created = True


class LinkerIndex(_IndexBlobs):
    """Reverse routing: which clusters hold a linker of ours to which target, in the app's storage account.

    One empty blob per holding, `linkers/<target>/<cluster>/<linker>` (the ids in its metadata), so an event reads one
    listing for its target instead of one linker listing per cluster; and one `holdings/<cluster>.json` per cluster
    (linker -> target), so a delete (which names no target) and the sweep's re-sync find what to drop. Written when
    we put or delete a linker, re-synced per cluster by the sweep. A HINT for where to look, never evidence: a
    cluster's own linker listing decides what it holds. Every method fails soft (a failed index read is "unknown",
    a failed write is logged): routing then falls back, and the next sweep re-syncs."""

    def __init__(self, blobs: BlobServiceClient):
        super().__init__(blobs)
        self._built = False

    def clusters_for(self, target_id: str) -> frozenset[str] | None:
        """Lower-case ids of the clusters recorded as holding a linker to the target; None when unknown (the index
        was never completed by a sweep, or storage did not answer)."""
        try:
            if not self._built:  # once a sweep has built it, it stays built: not read again on every event
                if not self.container.get_blob_client(_BUILT).exists():
                    return None
                self._built = True
            listing = self.container.list_blobs(name_starts_with=f"linkers/{_key(target_id)}/", include=["metadata"])
            return frozenset((b.metadata or {}).get("cluster", "").lower() for b in listing) - {""}
        except AzureError as error:
            log.warning("linker index unreadable (%s): routing falls back", type(error).__name__)
            return None

    def held(self, cluster_id: str, target_id: str, linker: str) -> None:
        """A linker of ours was put: record it."""
        self._update(cluster_id, lambda holdings: holdings | {linker: target_id})

    def released(self, cluster_id: str, linker: str) -> None:
        """A linker of ours was deleted: forget it."""
        self._update(cluster_id, lambda holdings: {n: t for n, t in holdings.items() if n != linker})

    def sync(self, cluster_id: str, holdings: dict[str, str]) -> None:
        """The sweep read the cluster's linkers (ours: linker -> target): make the index say exactly that."""
        self._update(cluster_id, lambda _: dict(holdings))

    def mark_built(self) -> None:
        """Every cluster has been recorded by a sweep: from now on an event may route by the index."""
        with contextlib.suppress(AzureError):
            self._ensure_container()
            self.container.upload_blob(_BUILT, datetime.now(UTC).isoformat().encode(), overwrite=True)

    def _update(self, cluster_id: str, change) -> None:
        manifest = self.container.get_blob_client(f"holdings/{_key(cluster_id)}.json")
        try:
            self._ensure_container()
            for _ in range(4):  # optimistic concurrency on the cluster's manifest (ETag); another writer wins a race
                try:
                    download = manifest.download_blob()
                    before, condition = (
                        json.loads(download.readall())["linkers"],
                        {"etag": download.properties.etag, "match_condition": MatchConditions.IfNotModified},
                    )
                except ResourceNotFoundError:
                    before, condition = {}, {"match_condition": MatchConditions.IfMissing}
                after = change(before)
                if after == before:
                    return
                for name, target in before.items():
                    if after.get(name, "").lower() != target.lower():
                        with contextlib.suppress(ResourceNotFoundError):
                            self.container.delete_blob(self._entry(target, cluster_id, name))
                for name, target in after.items():
                    if before.get(name, "").lower() != target.lower():
                        self.container.upload_blob(
                            self._entry(target, cluster_id, name),
                            b"",
                            overwrite=True,
                            metadata={"cluster": cluster_id, "target": target},
                        )
                try:
                    body = json.dumps({"cluster": cluster_id, "linkers": after}).encode()
                    manifest.upload_blob(body, overwrite=True, **condition)
                    return
                except (ResourceModifiedError, ResourceExistsError):
                    continue
            log.warning("linker index: %s kept changing; the next sweep re-syncs it", cluster_id)
        except AzureError as error:
            log.warning(
                "linker index not updated for %s (%s); the next sweep re-syncs it", cluster_id, type(error).__name__
            )

    @staticmethod
    def _entry(target_id: str, cluster_id: str, linker: str) -> str:
        return f"linkers/{_key(target_id)}/{_key(cluster_id)}/{linker}"


class SharedFacts(_IndexBlobs):
    """What does not change per event, shared by every instance of the app through its storage account: each
    cluster's API endpoint and CA (from listClusterUserCredential: a POST, counted in ARM's write bucket) and the
    configuration key names per connection shape (listConfigurations, a POST too). Never a credential: only the
    server URL and the public CA certificate are kept; tokens stay in memory. Fails soft: a fact that cannot be read
    is read from ARM again."""

    def get(self, kind: str, key: str) -> dict | None:
        try:
            return json.loads(self.container.download_blob(f"facts/{kind}/{_key(key)}.json").readall())
        except ResourceNotFoundError:
            return None
        except (AzureError, ValueError) as error:
            log.warning("shared fact %s unreadable (%s): read from ARM instead", kind, type(error).__name__)
            return None

    def put(self, kind: str, key: str, value: dict) -> None:
        try:
            self._ensure_container()
            self.container.upload_blob(f"facts/{kind}/{_key(key)}.json", json.dumps(value).encode(), overwrite=True)
        except AzureError as error:
            log.warning("shared fact %s not stored (%s)", kind, type(error).__name__)

    def forget(self, kind: str, key: str) -> None:
        with contextlib.suppress(AzureError):
            self.container.delete_blob(f"facts/{kind}/{_key(key)}.json")
