"""OpenTelemetry: traces around each reconcile and sweep, counters for what changed and what was found.
Exported to Application Insights through azure-monitor-opentelemetry when APPLICATIONINSIGHTS_CONNECTION_STRING
is set; otherwise the API is a no-op (CLI, tests)."""

from __future__ import annotations

from opentelemetry import metrics, trace

from shared.config import TelemetrySettings

tracer = trace.get_tracer("sc_autopilot")
_meter = metrics.get_meter("sc_autopilot")

connections_created = _meter.create_counter("sc_autopilot.connections.created", description="linkers created")
connections_repaired = _meter.create_counter("sc_autopilot.connections.repaired", description="linkers re-put")
connections_removed = _meter.create_counter("sc_autopilot.connections.removed", description="linkers deleted")
workloads_rewired = _meter.create_counter("sc_autopilot.workloads.rewired", description="workload updates")
verdicts = _meter.create_counter("sc_autopilot.verdicts", description="sweep verdicts, by verdict")
orphans = _meter.create_counter("sc_autopilot.orphans", description="orphans seen, by state")
throttled = _meter.create_counter("sc_autopilot.arm.throttled", description="ARM answers 429 that reached us")


def configure(settings: TelemetrySettings) -> bool:
    """Send to Application Insights when the app setting is there (identity-based when a client id is set)."""
    if not settings.connection_string:
        return False
    from azure.identity import ManagedIdentityCredential
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = ManagedIdentityCredential(client_id=settings.client_id) if settings.client_id else None
    configure_azure_monitor(
        connection_string=settings.connection_string, credential=credential, logger_name="sc_autopilot"
    )
    return True
