"""Event Grid trigger: an ARM event is a hint to reconcile the clusters it concerns; deferred clusters come back
through the delayed reconcile queue. Hops: on_resource_event -> EventDriver.handle (route) ->
Reconciler.reconcile_all -> Reconciler.reconcile -> Executor.apply; then `settle` (requeue or raise)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.adapters.storage import RECONCILE_QUEUE, ReconcileQueue
from shared.config import StorageSettings
from shared.container import application
from shared.core.ids import ResourceRef
from shared.core.policy import Next, after_requeues
from shared.service.results import RunReport

blueprint = func.Blueprint()
log = logging.getLogger("sc_autopilot.functions.events")


@blueprint.function_name("on_resource_event")
@blueprint.event_grid_trigger(arg_name="event")
def on_resource_event(event: func.EventGridEvent) -> None:
    """Reconcile what the event names, then settle: requeue what waits, or raise so Event Grid redelivers."""
    settle(application().events.handle([as_dict(event)]), attempt=1)


@blueprint.function_name("reconcile_later")
@blueprint.queue_trigger(arg_name="message", queue_name=RECONCILE_QUEUE, connection="AzureWebJobsStorage")
def reconcile_later(message: func.QueueMessage) -> None:
    """A deferred cluster, once its wait is over: reconciled from fresh tags and state, like any entry point."""
    body = message.get_json()
    report = application().events.reconcile_later(ResourceRef.parse(body["cluster"]))
    settle(report, attempt=int(body.get("attempt", 1)) + 1)  # a raise: the host retries, then sc-reconcile-poison


def settle(report: RunReport, attempt: int) -> None:
    """Apply each cluster's step (shared.core.policy): a failure anywhere raises, so the platform redelivers the
    whole invocation (which re-reads every cluster it names: nothing is also requeued); otherwise each waiting
    cluster is requeued for its wait, or given up to the scheduled sweep after MAX_REQUEUES."""
    if not report.ok:
        raise ReconcileFailedError(report.summary())
    queue = None
    for run in report.runs:
        step = after_requeues(run.step, attempt)
        if step.next is Next.GIVE_UP:
            log.warning("%s is still deferred after %d requeues; the scheduled sweep retries it", run.cluster, attempt)
        elif step.next is Next.REQUEUE:
            queue = queue or ReconcileQueue.from_settings(StorageSettings.from_env())
            queue.requeue(run.cluster, step.after, attempt)
            log.info("requeued %s in %.0f s: %s", run.cluster, step.after, "; ".join(run.deferred))


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
