"""Sweeps that outgrow one invocation: one queue message per cluster, results in Blob Storage, the report
assembled by whichever invocation stores the last result. Azure Storage through AzureWebJobsStorage
(Azurite locally)."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.storage.blob import BlobServiceClient, ContentSettings
from azure.storage.queue import QueueServiceClient, TextBase64EncodePolicy

from shared import report as report_module
from shared.config import StorageSettings
from shared.core.codes import Code, Finding

SWEEP_QUEUE = "sc-sweep"
POISON_QUEUE = f"{SWEEP_QUEUE}-poison"  # where the Functions host moves a message after maxDequeueCount
RECONCILE_QUEUE = "sc-reconcile"  # deferred clusters, each message invisible until its requeue_after has passed
CONTAINER = "sc-reports"
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600  # Azure Storage's limit for a message's initial invisibility


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
