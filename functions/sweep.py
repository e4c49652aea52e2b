"""The compliance sweep: a timer (and an HTTP run-now) fans out one queue message per cluster; a queue
trigger sweeps one cluster; poison messages still land in the report as findings."""

from __future__ import annotations

import functools
import json
import logging

import azure.functions as func

from shared.adapters.storage import POISON_QUEUE, SWEEP_QUEUE, SweepStore
from shared.config import StorageSettings
from shared.container import application
from shared.core.ids import ResourceRef
from shared.report import fragment
from shared.service.estate import Estate

blueprint = func.Blueprint()
log = logging.getLogger("sc_autopilot.functions.sweep")


def start_sweep(dry_run: bool | None = None) -> str:
    app = application()
    estate = app.inventory.estate(all_clusters=True)
    clusters = sorted(c.id for c in estate.clusters)
    dry = app.settings.dry_run if dry_run is None else dry_run
    run = SweepStore.from_settings(StorageSettings.from_env()).start(clusters, dry, estate=estate.to_dict())
    log.info("sweep %s started: %d cluster(s)", run, len(clusters))
    return run


@functools.lru_cache(maxsize=4)
def run_estate(run: str) -> Estate | None:
    """The run's estate, downloaded once per worker process and run (a worker sweeps many clusters of a run);
    its memo of identities, providers and configuration names is shared by those clusters too."""
    snapshot = SweepStore.from_settings(StorageSettings.from_env()).estate(run)
    return Estate.from_dict(snapshot) if snapshot else None


@blueprint.function_name("sweep_timer")
@blueprint.timer_trigger(arg_name="timer", schedule="%SC_SWEEP_SCHEDULE%")
def sweep_timer(timer: func.TimerRequest) -> None:
    start_sweep()


@blueprint.function_name("sweep_now")
@blueprint.route(route="sweep", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def sweep_now(req: func.HttpRequest) -> func.HttpResponse:
    run = start_sweep(dry_run=req.params.get("dryRun", "").lower() == "true" or None)
    return func.HttpResponse(json.dumps({"run": run}), status_code=202, mimetype="application/json")


@blueprint.function_name("sweep_cluster")
@blueprint.queue_trigger(arg_name="message", queue_name=SWEEP_QUEUE, connection="AzureWebJobsStorage")
def sweep_cluster(message: func.QueueMessage) -> None:
    body = message.get_json()
    store = SweepStore.from_settings(StorageSettings.from_env())
    manifest = store.manifest(body["run"])
    app = application()
    estate = run_estate(body["run"])
    result = app.sweeper.run_one(ResourceRef.parse(body["cluster"]), dry_run=manifest["dryRun"], estate=estate,
                                 sweep_run=body["run"])  # fmt: skip
    store.record(body["run"], int(body["index"]), fragment(result.clusters[0]))
    path = store.assemble_if_complete(body["run"])
    if path and app.index is not None and not (estate and estate.failures):
        app.index.mark_built()  # every cluster of the run has re-synced its holdings
    if path:
        summary = store.report(path)["summary"]
        log.info("sweep %s complete: %s; report at %s", body["run"], json.dumps(summary, sort_keys=True), path)
    if not result.ok:  # recorded (and reported) first; the retry then replaces this cluster's result
        raise SweepFailedError(f"sweeping {body['cluster']} did not complete: see its READ_FAILED findings")


@blueprint.function_name("sweep_poison")
@blueprint.queue_trigger(arg_name="message", queue_name=POISON_QUEUE, connection="AzureWebJobsStorage")
def sweep_poison(message: func.QueueMessage) -> None:
    body = message.get_json()
    store = SweepStore.from_settings(StorageSettings.from_env())
    store.record_failure(body, f"dequeued {message.dequeue_count} time(s)")
    store.assemble_if_complete(body["run"])


class SweepFailedError(RuntimeError):
    """Raised so that the queue redelivers the message (after maxDequeueCount it goes to sc-sweep-poison)."""
