"""Event Grid trigger: an ARM event is a hint to reconcile the scope it names."""

from __future__ import annotations

import azure.functions as func

from shared.container import application

blueprint = func.Blueprint()


@blueprint.function_name("on_resource_event")
@blueprint.event_grid_trigger(arg_name="event")
def on_resource_event(event: func.EventGridEvent) -> None:
    """Reconcile what the event names. Deferred work raises, so Event Grid redelivers the event later (its retry
    policy is the backoff) and nothing is lost; the scheduled sweep is the backstop."""
    report = application().handle_events([as_dict(event)])
    if report.deferred:
        raise DeferredWorkError(f"deferred, Event Grid will redeliver: {'; '.join(report.deferred)}")


class DeferredWorkError(RuntimeError):
    """Raised so that Event Grid redelivers the event later (its retry policy is the backoff)."""


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
