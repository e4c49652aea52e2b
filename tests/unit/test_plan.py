"""A plan's printed lines are a user contract (dry-run output, `plan --detailed-exitcode`, saved-plan diffs), so each
action's line is pinned exactly; and which actions count as removals or destructive is the circuit breakers' rule."""

from __future__ import annotations

import pytest

from shared.core.codes import Code, Finding
from shared.core.model import AuthKind, Intent, ObjectKind, TargetKind, Wiring, WorkloadRef
from shared.core.plan import (
    AnnotateObject,
    Defer,
    DeleteLinker,
    DeleteObject,
    Plan,
    PutLinker,
    RegisterProvider,
    RewireWorkload,
    changed_actions,
    is_destructive,
    is_removal,
    moved,
)
from tests.planner_world import CLUSTER, DB, SUB

API = WorkloadRef("Deployment", "shop", "api")
WIRING = Wiring("sc-orders-secret", ("api",))
INTENT = Intent(CLUSTER, DB, TargetKind.SQL_DATABASE, "shop", AuthKind.SECRET, "python", (), "orders_ab12", "s")
WI_INTENT = Intent(CLUSTER, DB, TargetKind.SQL_DATABASE, "web", AuthKind.WORKLOAD_IDENTITY, "python", (), "wi_1", "s")

REGISTER = RegisterProvider(SUB, "Microsoft.ServiceLinker")
PUT = PutLinker(INTENT, "missing")
REPLACE = PutLinker(WI_INTENT, "drifted: auth", replaces=True)
DELETE_LINKER = DeleteLinker(CLUSTER, "orders_ab12")
REWIRE = RewireWorkload(CLUSTER, API, (("a_1", WIRING), ("b_2", WIRING)))
UNWIRE = RewireWorkload(CLUSTER, API, (), removes=True)
WAITING = RewireWorkload(CLUSTER, API, (("a_1", WIRING),), after_linkers=("a_1", "b_2"))
DELETE_SECRET = DeleteObject(CLUSTER, ObjectKind.SECRET, "shop", "sc-orders-secret")
DELETE_ACCOUNT = DeleteObject(CLUSTER, ObjectKind.SERVICE_ACCOUNT, "shop", "sc-account-wi")
ANNOTATE = AnnotateObject(CLUSTER, ObjectKind.SECRET, "shop", "sc-x", (("a", "1"), ("b", "2")))
DEFER = Defer(CLUSTER, "cluster is Updating")
DEFER_LINKER = Defer(CLUSTER, "linker is Accepted", 30, linker="orders_ab12")


@pytest.mark.parametrize(
    ("action", "line"),
    [
        (REGISTER, f"register resource provider Microsoft.ServiceLinker in subscription {SUB}"),
        (PUT, "put linker orders_ab12 (secret, namespace shop) -> orders on aks: missing"),
        (REPLACE, "put linker wi_1 (workload-identity, namespace web) -> orders on aks: drifted: auth"),
        (DELETE_LINKER, "delete linker orders_ab12 on aks"),
        (REWIRE, "rewire deployment/shop/api on aks: our connections = a_1, b_2"),
        (UNWIRE, "rewire deployment/shop/api on aks: our connections = none"),
        (WAITING, "rewire deployment/shop/api on aks: our connections = a_1 (after linker a_1, b_2 is put)"),
        (DELETE_SECRET, "delete secret shop/sc-orders-secret on aks"),
        (DELETE_ACCOUNT, "delete service account shop/sc-account-wi on aks"),
        (ANNOTATE, "annotate secret shop/sc-x on aks: a=1, b=2"),
        (DEFER, "defer aks: cluster is Updating (retry in 60s)"),
        (DEFER_LINKER, "defer aks: linker is Accepted (retry in 30s)"),
    ],
)
def test_every_action_prints_one_exact_line(action, line):
    assert action.describe() == line


@pytest.mark.parametrize(
    ("action", "removal", "destructive"),
    [
        (REGISTER, False, False),
        (PUT, False, False),
        (REPLACE, False, True),  # overwrites a linker: never on a partial view, but not a removal
        (DELETE_LINKER, True, True),
        (REWIRE, False, False),
        (UNWIRE, True, True),
        (DELETE_SECRET, True, True),
        (DELETE_ACCOUNT, True, True),
        (ANNOTATE, False, False),
        (DEFER, False, False),
    ],
)
def test_removals_and_destructive_actions(action, removal, destructive):
    assert (is_removal(action), is_destructive(action)) == (removal, destructive)


def test_a_plans_views_of_its_actions():
    plan = Plan(CLUSTER, (DEFER_LINKER, PUT, WAITING, REWIRE, DEFER))
    assert plan.writes == (PUT, WAITING, REWIRE)
    assert plan.immediate == (DEFER_LINKER, PUT, REWIRE, DEFER)
    assert plan.deferred == (DEFER_LINKER, DEFER)
    assert not plan.is_empty and Plan(CLUSTER, findings=(object(),)).is_empty
    assert plan.lines() == [a.describe() for a in plan.actions]


def test_a_plan_as_json_names_each_actions_type_line_and_what_it_waits_for():
    finding = Finding(Code.PAUSED, CLUSTER.id, "left alone", "remove sc-pause", "sc-pause")
    assert Plan(CLUSTER, (PUT, WAITING, REWIRE), (finding,)).to_dict() == {
        "cluster": CLUSTER.id,
        "actions": [
            {"type": "PutLinker", "description": PUT.describe()},
            {"type": "RewireWorkload", "description": WAITING.describe(), "dependsOn": ["a_1", "b_2"]},
            {"type": "RewireWorkload", "description": REWIRE.describe()},
        ],
        "findings": [finding.to_dict()],
    }


def test_changed_actions_lists_what_went_and_what_came():
    assert changed_actions(("a", "b"), ("a", "b")) == []
    assert changed_actions((), ()) == []
    assert changed_actions(("a", "b"), ("b", "c")) == ["- a", "+ c"]
    assert changed_actions(("a", "b"), ("b", "a")) == ["the same actions in another order"]


def test_a_saved_plan_moved_when_any_cluster_differs():
    one, two, three = (f"/subscriptions/s/resourcegroups/rg/providers/x/managedclusters/aks-{n}" for n in (1, 2, 3))
    assert moved({one: ("a",)}, {one: ("a",)}) == []
    assert moved({two: ("a",), one: ("x",)}, {one: ("y",), three: ("b",)}) == [
        "aks-1: - x",
        "aks-1: + y",
        "aks-2: no longer in scope",
        "aks-2: - a",
        "aks-3: new in scope",
        "aks-3: + b",
    ]
    assert moved({one: ()}, {}) == ["aks-1: no longer in scope"]
    assert moved({}, {"aks-0": ()}) == ["aks-0: new in scope"]
