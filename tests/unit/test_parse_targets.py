"""parse_targets: every listing's targets are parsed, but an instance parses a target's tags once until they change."""

from __future__ import annotations

import dataclasses

from shared.core.codes import Code
from shared.core.planner import parse_targets
from tests.planner_world import OPENAI_TARGET, SETTINGS, SQL_TARGET


def test_unchanged_tags_are_parsed_once_and_changed_tags_again():
    first = parse_targets([SQL_TARGET, OPENAI_TARGET], SETTINGS)
    again = parse_targets([OPENAI_TARGET, dataclasses.replace(SQL_TARGET, tags=dict(SQL_TARGET.tags))], SETTINGS)
    assert [p.info.ref for p in first.items] == [p.info.ref for p in again.items]
    assert all(a.tags is b.tags for a, b in zip(first.items, again.items, strict=True)), "the same parse, reused"

    renamed = dataclasses.replace(SQL_TARGET, tags=SQL_TARGET.tags | {"sc-namespace": "billing"})
    changed = {p.info.ref: p for p in parse_targets([renamed, OPENAI_TARGET], SETTINGS).items}
    assert changed[SQL_TARGET.ref].tags.namespace == "billing"
    assert changed[SQL_TARGET.ref].info is renamed, "each listing's own target info, whatever was memoised"

    refused = dataclasses.replace(SQL_TARGET, tags=SQL_TARGET.tags | {"sc-namespace": "Not A Namespace"})
    (parsed,) = parse_targets([refused], SETTINGS).items
    assert parsed.tags is None and [f.code for f in parsed.findings] == [Code.TAG_INVALID]


def test_tags_that_are_not_strings_are_parsed_without_the_memo():
    odd = dataclasses.replace(SQL_TARGET, tags=SQL_TARGET.tags | {"sc-workloads": ["deploy/web"]})
    (parsed,) = parse_targets([odd], SETTINGS).items
    assert parsed.info is odd and parsed.tags is not None and parsed.tags.workloads == (), "a list is no workload"
