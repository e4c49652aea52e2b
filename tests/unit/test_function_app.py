"""Index the Functions app the way the Python worker does, and check each binding against its function."""

from __future__ import annotations

import functools
import inspect
import json

import azure.functions as func

import function_app


@functools.cache  # the worker indexes once; a second get_functions() call reports duplicates
def indexed() -> dict[str, func.Function]:
    app = next(v for v in vars(function_app).values() if isinstance(v, func.FunctionApp))
    return {f.get_function_name(): f for f in app.get_functions()}


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

    from shared import app as app_module

    app_module.application.cache_clear()
    event = {
        "id": "1", "topic": "/subscriptions/x", "subject": "/subscriptions/x/resourceGroups/r", "eventType": "Other",
        "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "2", "data": {"operationName": "x"},
    }  # fmt: skip
    decoded = EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})
    indexed()["on_resource_event"].get_user_function()(decoded)
    assert admin.requests_since(0) == []  # an unrelated event costs no call at all
    app_module.application.cache_clear()
