"""One verdict per reason code, everywhere: the connection's verdict is its worst reason's."""

from __future__ import annotations

import re
from pathlib import Path

from shared.core.codes import Code
from shared.core.planner import desired_state, plan_cluster
from shared.core.verdicts import VERDICT_OF, WORST_FIRST, Evidence, Reason, Status, judge, verdict_of
from tests.planner_world import IDENTITIES, SETTINGS, SQL_TARGET, state, workload

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_the_worst_reason_decides():
    reasons = [Reason(Code.LINKER_MISSING, "", ""), Reason(Code.WORKLOAD_NOT_FOUND, "", "")]
    assert verdict_of(reasons) is Status.ERROR
    assert verdict_of([Reason(Code.LINKER_PROVISIONING, "", "")]) is Status.PENDING
    assert verdict_of([]) is Status.COMPLIANT
    assert WORST_FIRST[0] is Status.ERROR and WORST_FIRST[-1] is Status.COMPLIANT


def test_a_missing_workload_is_an_error_from_the_first_sweep_on():
    actual = state(workload("Deployment", "api"))  # sts/worker does not exist, no linker yet
    desired = desired_state(actual, [SQL_TARGET], IDENTITIES, SETTINGS)
    plan = plan_cluster(desired, actual, SETTINGS)
    (verdict,) = judge(desired, actual, plan, Evidence())
    assert verdict.status is Status.ERROR
    assert [r.code for r in verdict.reasons] == [Code.LINKER_MISSING, Code.WORKLOAD_NOT_FOUND]


def test_the_readme_lists_every_reason_code_under_its_one_verdict():
    table = {}
    for line in README.read_text().splitlines():
        if match := re.match(r"\| `(Compliant|Drifted|Pending|Orphaned|Error)` \|.*\|(.*)\|$", line):
            for code in re.findall(r"`([A-Z_]+)`", match.group(2)):
                table[code] = Status(match.group(1))
    assert table == {str(code): status for code, status in VERDICT_OF.items()}


def test_every_reason_the_code_gives_has_its_verdict():
    pattern = re.compile(r"Reason\(\s*Code\.([A-Z_]+)")
    given = {m for path in (ROOT / "shared").rglob("*.py") for m in pattern.findall(path.read_text())}
    assert given and given <= {c.name for c in VERDICT_OF}, given - {c.name for c in VERDICT_OF}
