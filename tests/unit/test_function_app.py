"""Index the Functions app the way the Python worker does, and check each binding against its function."""

from __future__ import annotations

import inspect
import json

import azure.functions as func
import pytest

from shared.config import ConfigError, Settings
from tests.conftest import SUB, indexed_functions


def indexed() -> dict[str, func.Function]:
    return indexed_functions()


def test_every_binding_names_a_parameter_of_its_function():
    functions = indexed()
    assert functions
    for name, function in functions.items():
        bindings = [json.loads(b) for b in function.get_raw_bindings()]
        parameters = set(inspect.signature(function.get_user_function()).parameters)
        names = {b["name"] for b in bindings if b["direction"] == "IN" or b["type"].endswith("Trigger")}
        assert names <= parameters, (name, names, parameters)


def test_event_function_is_an_event_grid_trigger():
    function = indexed()["on_resource_event"]
    [binding] = [json.loads(b) for b in function.get_raw_bindings()]
    assert binding["type"] == "eventGridTrigger" and binding["direction"] == "IN" and binding["name"] == "event"


def test_event_function_handles_host_shaped_input(cloud, admin):
    """The host hands the worker JSON; the library's converter builds the EventGridEvent we receive."""
    from azure.functions.eventgrid import EventGridEventInConverter
    from azure.functions.meta import Datum

    from shared import container as app_module

    app_module.application.cache_clear()
    event = {
        "id": "1", "topic": "/subscriptions/x", "subject": "/subscriptions/x/resourceGroups/r", "eventType": "Other",
        "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "2", "data": {"operationName": "x"},
    }  # fmt: skip
    decoded = EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})
    indexed()["on_resource_event"].get_user_function()(decoded)
    assert admin.requests_since(0) == []  # an unrelated event costs no call at all
    app_module.application.cache_clear()


def test_the_sweep_timer_reads_its_schedule_from_the_app_setting_and_the_default_is_valid_ncrontab():
    [binding] = [json.loads(b) for b in indexed()["sweep_timer"].get_raw_bindings()]
    assert binding["type"] == "timerTrigger" and binding["schedule"] == "%SC_SWEEP_SCHEDULE%"
    settings = Settings.from_env({"SC_SUBSCRIPTIONS": SUB})
    assert settings.sweep_schedule == "0 0 * * * *"
    with pytest.raises(ConfigError, match="NCRONTAB"):
        Settings.from_env(
            {"SC_SUBSCRIPTIONS": "c0ffee00-0000-4000-8000-00000000d370", "SC_SWEEP_SCHEDULE": "0 * * * *"}
        )


def test_queue_and_http_bindings():
    functions = indexed()
    [queue] = [json.loads(b) for b in functions["sweep_cluster"].get_raw_bindings()]
    assert (
        queue["type"] == "queueTrigger"
        and queue["queueName"] == "sc-sweep"
        and queue["connection"] == "AzureWebJobsStorage"
    )
    http = [json.loads(b) for b in functions["sweep_now"].get_raw_bindings()]
    assert http[0]["type"] == "httpTrigger" and http[0]["authLevel"] == "FUNCTION" and http[0]["methods"] == ["POST"]
