"""Event Grid trigger: an ARM event is a hint to reconcile the clusters it concerns; deferred clusters come back
through the delayed reconcile queue."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.adapters.storage import RECONCILE_QUEUE, ReconcileQueue
from shared.config import StorageSettings
from shared.container import application
from shared.core.ids import ResourceRef
from shared.service.results import RunReport

blueprint = func.Blueprint()
log = logging.getLogger("sc_autopilot.functions.events")


@blueprint.function_name("on_resource_event")
@blueprint.event_grid_trigger(arg_name="event")
def on_resource_event(event: func.EventGridEvent) -> None:
    """Reconcile what the event names. A deferred cluster (busy, or a linker settling) is requeued for when its wait
    is over; a failed read or write raises, so Event Grid redelivers the event (its retry policy is the backoff)."""
    report = application().handle_events([as_dict(event)])
    requeue(report, attempt=1)
    if not report.ok:
        raise ReconcileFailedError(report.summary())


@blueprint.function_name("reconcile_later")
@blueprint.queue_trigger(arg_name="message", queue_name=RECONCILE_QUEUE, connection="AzureWebJobsStorage")
def reconcile_later(message: func.QueueMessage) -> None:
    """A deferred cluster, once its wait is over: reconciled from fresh tags and state, like any entry point."""
    body = message.get_json()
    app = application()
    run = app.reconcile_cluster(ResourceRef.parse(body["cluster"]), app.inventory.estate())
    report = RunReport([run])
    requeue(report, attempt=int(body.get("attempt", 1)) + 1)
    if not report.ok:
        raise ReconcileFailedError(report.summary())  # the host retries, then moves it to sc-reconcile-poison


def requeue(report: RunReport, attempt: int) -> None:
    waiting = [run for run in report.runs if run.requeue_after is not None]
    if not waiting:
        return
    queue = ReconcileQueue.from_settings(StorageSettings.from_env())
    for run in waiting:
        if queue.requeue(run.cluster, run.requeue_after, attempt):
            log.info("requeued %s in %.0f s: %s", run.cluster, run.requeue_after, "; ".join(run.deferred))
        else:
            log.warning("%s is still deferred after %d requeues; the scheduled sweep retries it", run.cluster, attempt)


class ReconcileFailedError(RuntimeError):
    """Raised so that the platform retries: Event Grid redelivers the event, the queue redelivers the message."""


def as_dict(event: func.EventGridEvent | func.CloudEvent) -> dict:
    """Back to the wire shape, EventGrid or CloudEvents 1.0, so every entry point shares one parser."""
    if isinstance(event, func.CloudEvent):
        return {
            "specversion": event.specversion,
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "data": event.get_json(),
        }
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "dataVersion": event.data_version,
        "data": event.get_json(),
    }
