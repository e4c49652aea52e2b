"""The mutation score's ledger: equivalents leave the denominator, wording-only survivors do not, and an entry that
matches no survivor any more is reported stale (so the ledger cannot hide a mutant)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutation_score import Justified, Kind, Mutant, _row, ledger, summarise

KILLED = Mutant("shared.core.plan.xǁPutLinkerǁdescribe__mutmut_1", "killed")
SURVIVOR = Mutant("shared.core.plan.xǁPutLinkerǁdescribe__mutmut_2", "survived")
OTHER = Mutant("shared.core.planner.x_plan_cluster__mutmut_7", "survived")
CHANGES = {SURVIVOR.name: "- a | + b", OTHER.name: "- c | + d"}


def change_of(mutant: Mutant) -> str:
    return CHANGES[mutant.name]


def test_a_mutant_name_gives_its_module_and_function():
    assert (SURVIVOR.module, SURVIVOR.function) == ("plan", "PutLinker.describe")
    assert (OTHER.module, OTHER.function) == ("planner", "plan_cluster")
    assert KILLED.killed and not SURVIVOR.killed
    assert Mutant("shared.core.ids.x_parse__mutmut_3", "timeout").killed


def test_an_equivalent_leaves_the_denominator():
    entry = Justified("plan", "PutLinker.describe", "- a | + b", Kind.EQUIVALENT, "same text")
    summary = summarise([KILLED, SURVIVOR], change_of, [entry])
    assert summary.counts["plan"] == {"total": 2, "killed": 1, "equivalent": 1}
    assert _row("plan", summary.counts["plan"]).split()[-1] == "100.0%"
    assert not summary.unexplained and not summary.stale and not summary.wording


def test_a_wording_survivor_still_counts_as_not_killed():
    entry = Justified("plan", "PutLinker.describe", "- a | + b", Kind.WORDING, "log text")
    summary = summarise([KILLED, SURVIVOR], change_of, [entry])
    assert _row("plan", summary.counts["plan"]).split()[-1] == "50.0%"
    assert summary.wording == [(SURVIVOR, entry)]


def test_an_unjustified_survivor_is_listed_with_its_diff():
    summary = summarise([KILLED, SURVIVOR, OTHER], change_of, [])
    assert summary.unexplained == [(SURVIVOR, "- a | + b"), (OTHER, "- c | + d")]


def test_an_entry_matching_no_survivor_of_a_checked_function_is_stale():
    gone = Justified("plan", "PutLinker.describe", "- x | + y", Kind.EQUIVALENT, "was equivalent")
    unchecked = Justified("tags", "_normalise", "- x | + y", Kind.EQUIVALENT, "another run's module")
    summary = summarise([KILLED, SURVIVOR], change_of, [gone, unchecked])
    assert summary.stale == [gone]


def test_the_ledger_files_parse(tmp_path: Path):
    assert all(entry.why.strip() for entry in ledger())  # the committed ledger
    (tmp_path / "planner_desired.yaml").write_text(
        "- function: desired_state\n  change: '- a | + b'\n  kind: equivalent\n  why: same\n"
    )
    assert ledger(tmp_path) == [Justified("planner", "desired_state", "- a | + b", Kind.EQUIVALENT, "same")]
    (tmp_path / "tags.yaml").write_text("- function: x\n  change: y\n  kind: maybe\n  why: z\n")
    with pytest.raises(SystemExit, match=r"tags\.yaml: malformed entry"):
        ledger(tmp_path)
