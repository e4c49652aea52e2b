"""Hostile and broken events: every one is ignored with a reason, nothing raises out of an entry point, and an
ignored event costs no call at all, so it can write nothing.

Pure layer: `decode` and `parse_event`. End-to-end layer: raw bodies into `EventDriver.handle`, host-shaped
events into the Functions entry point `on_resource_event`, a file into `sc-autopilot handle-event`, and every hostile
event in one batch with the genuine ones on an estate that is tagged and ready to be wired.
"""

from __future__ import annotations

import json
import logging

import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum

from shared.cli import EXIT_USAGE, main
from shared.core.eventgrid import EventHint, Ignored, decode, parse_event
from tests.badinput.conftest import RECORD_VERSION, assert_writes_within, bystanders, writes_since
from tests.badinput.hostile import ALL, EVENT_CATEGORIES, EVENTS, RAW, RAW_PAYLOADS
from tests.conftest import CLUSTER, DATABASE, OPENAI
from tests.e2e.conftest import CLUSTER_TAGS, OPENAI_TAGS, SQL_TAGS

MAX_REASON = 400  # a reason quotes at most a bounded piece of the input
FOREIGN = "subject-foreign-subscription"  # a well-formed event: the application, not the parser, ignores it


def assert_clear_reason(ignored: Ignored) -> None:
    assert isinstance(ignored, Ignored), ignored
    assert ignored.reason and len(ignored.reason) <= MAX_REASON and ignored.reason.isprintable(), ignored.reason


def ready_estate(estate) -> None:
    """Tag everything validly, without handling the events: a hostile event mistaken for a hint would wire things."""
    estate.tag(CLUSTER, CLUSTER_TAGS)
    estate.tag(DATABASE, SQL_TAGS)
    estate.tag(OPENAI, OPENAI_TAGS)


# -- pure ----------------------------------------------------------------------------------------------------
def test_the_catalogue_holds_at_least_50_distinct_hostile_inputs():
    """Issue 6 asks for at least 50; every one has its own readable id."""
    assert len({p.id for p in ALL}) == len(ALL) >= 50
    assert all(p.id.isascii() and " " not in p.id for p in ALL)


@pytest.mark.parametrize("payload", RAW_PAYLOADS)
def test_decode_either_gives_events_or_refuses_with_a_value_error(payload):
    try:
        events = decode(payload)
    except ValueError as error:
        assert str(error)
        return
    assert isinstance(events, list)
    for event in events:
        assert_clear_reason(parse_event(event))


@pytest.mark.parametrize("event", [p for p in EVENTS if p.id != FOREIGN])
def test_parse_event_ignores_with_a_bounded_printable_reason(event):
    assert_clear_reason(parse_event(event))


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(DATABASE, id="database"),
        pytest.param(DATABASE.replace("orders", "orders.v2"), id="dot-inside-a-name"),
        pytest.param(DATABASE.replace("rg-shop", "rg.shop(eu)_1"), id="resource-group-punctuation"),
    ],
)
def test_what_the_stricter_subject_check_still_accepts(subject):
    """The fixes for newline, empty and dot segments do not reject real resource ids."""
    hint = parse_event({"eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": subject,
                        "data": {"operationName": "Microsoft.Sql/servers/databases/write"}})  # fmt: skip
    assert isinstance(hint, EventHint) and hint.resource_id == subject


# -- end to end: EventDriver.handle ------------------------------------------------------------------------
@pytest.mark.parametrize("payloads", [pytest.param(v, id=k) for k, v in RAW.items()])
def test_raw_bodies_into_handle_events_are_ignored_and_cost_no_call(payloads, app, admin):
    for payload in payloads:  # one cloud for the category; each body on its own, as each delivery would be
        mark = admin.mark()
        report = app.events.handle(payload.values[0])
        assert report.runs == [] and report.ignored, payload.id
        for ignored in report.ignored:
            assert_clear_reason(ignored)
        # not even a read: a hint would at least list the tagged resources
        assert admin.requests_since(mark) == [], payload.id


def test_every_hostile_event_in_one_batch_with_genuine_ones(estate, app, admin):
    """The genuine events are acted on, within their scope; each hostile one is listed as ignored."""
    ready_estate(estate)
    genuine = estate.new_events()
    hostile = [p.values[0] for p in EVENTS]
    before = bystanders(estate)
    mark = admin.mark()
    report = app.events.handle(hostile + genuine)
    assert report.ok, report.summary()
    assert len(report.ignored) == len(hostile)
    for ignored in report.ignored:
        assert_clear_reason(ignored)
    assert len(estate.linkers()) == 2  # the genuine events did their work
    linkers = "|".join(linker["name"] for linker in estate.linkers())
    assert_writes_within(
        writes_since(admin, mark),
        [
            r"^POST /subscriptions/[^/]+/providers/Microsoft\.KubernetesConfiguration/register$",
            rf"^PUT .*/managedClusters/aks-shop/providers/Microsoft\.ServiceLinker/linkers/({linkers})$",
            r"^PATCH /clusters/[^/]+/apis/(apps|batch)/v1/namespaces/shop/"
            r"(deployments/api|statefulsets/worker|deployments/web|cronjobs/report)$",
            RECORD_VERSION,
        ],
    )
    assert bystanders(estate) == before


# -- end to end: the Functions entry point, with events as the host hands them over ------------------------
@pytest.mark.parametrize("events", [pytest.param(v, id=k) for k, v in EVENT_CATEGORIES.items()])
def test_hostile_events_into_the_function_are_ignored_and_logged(events, on_resource_event, admin, caplog):
    function, reports = on_resource_event
    caplog.set_level(logging.DEBUG, logger="sc_autopilot")
    for event in events:  # one invocation per event, as the host delivers them
        decoded = EventGridEventInConverter.decode(Datum(json.dumps(event.values[0]), "json"), trigger_metadata={})
        mark, logged = admin.mark(), len(caplog.records)
        assert function(decoded) is None, event.id  # no exception: not even the deferral, nothing is deferred
        report = reports.pop()
        assert len(report.ignored) == 1 and report.runs == [], event.id
        assert_clear_reason(report.ignored[0])
        assert admin.requests_since(mark) == [], event.id
        reason = report.ignored[0].reason
        if reason != "subscription is not in SC_SUBSCRIPTIONS":  # not logged: see test_every_ignore_is_logged
            assert f"event ignored: {reason}" in [r.getMessage() for r in caplog.records[logged:]], event.id


# -- end to end: the CLI reads a file ------------------------------------------------------------------------
def test_handle_event_from_a_broken_file_is_a_usage_error(admin, tmp_path, capsys):
    """The CLI says the file is unreadable (exit 2, one line) before any request; the function reports an ignore."""
    broken = [
        p for p in RAW_PAYLOADS if p.id in ("not-utf8", "truncated-event", "deeply-nested-array", "over-1mb-bytes")
    ]
    assert len(broken) == 4
    for payload in broken:
        path = tmp_path / f"{payload.id}.json"
        body = payload.values[0]
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        mark = admin.mark()
        assert main(["--output", "json", "handle-event", str(path)]) == EXIT_USAGE, payload.id
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1, payload.id
        assert captured.err.startswith(f"sc-autopilot: the event file {path} is not readable JSON: "), payload.id
        assert admin.requests_since(mark) == [], payload.id


# -- gaps in shared/app.py (not ours to change in this change): documented, strict, so a fix is noticed --------
@pytest.mark.parametrize(
    "payload",
    [pytest.param({}, id="empty-dict"), pytest.param(None, id="none"), pytest.param(7, id="int")],
)
def test_a_payload_that_is_not_a_list_is_one_ignored_event(payload, app, admin):
    mark = admin.mark()
    report = app.events.handle(payload)
    assert len(report.ignored) == 1 and report.runs == []
    assert_clear_reason(report.ignored[0])
    assert admin.requests_since(mark) == []


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([p.values[0] for p in EVENTS if p.id == FOREIGN], id="foreign-subscription"),
        pytest.param("this is not json", id="undecodable"),
    ],
)
def test_every_ignore_is_logged(payload, app, caplog):
    caplog.set_level(logging.DEBUG, logger="sc_autopilot")
    [ignored] = app.events.handle(payload).ignored
    assert any(ignored.reason in r.getMessage() for r in caplog.records)
