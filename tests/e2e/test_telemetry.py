"""Traces around each reconcile and counters for what changed reach OpenTelemetry (Application Insights in
Azure); without APPLICATIONINSIGHTS_CONNECTION_STRING nothing is configured."""

from __future__ import annotations

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.adapters import telemetry
from shared.config import TelemetrySettings
from tests.conftest import CLUSTER, DATABASE
from tests.e2e.conftest import SQL_TAGS

READER = InMemoryMetricReader()
EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def providers():
    metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(tracer_provider)


def counters() -> dict[str, float]:
    data = READER.get_metrics_data()
    values: dict[str, float] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                values[metric.name] = sum(point.value for point in metric.data.data_points)
    return values


def test_reconcile_emits_spans_and_counters(estate, app):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    assert app.events.handle(estate.new_events()).ok
    values = counters()
    assert values["sc_autopilot.connections.created"] >= 1
    assert values["sc_autopilot.workloads.rewired"] >= 2
    spans = [s for s in EXPORTER.get_finished_spans() if s.name == "reconcile_cluster"]
    assert spans and spans[-1].attributes["sc.cluster"].lower() == CLUSTER.lower()


def test_nothing_is_configured_without_the_connection_string(monkeypatch):
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    assert telemetry.configure(TelemetrySettings()) is False
