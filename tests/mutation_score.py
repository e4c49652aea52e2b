"""`make mutation`'s summary: mutmut's verdict on every mutant of the pure core, as a score per module, and the
survivors with their diffs.

Every survivor must be killed by a test or be justified in `tests/mutation_equivalents/<module>.yaml`, a list of
`{function, change, kind, why}` entries matched against a survivor's function and diff exactly as printed here:
- `kind: equivalent`: no input can tell the mutant from the original; left out of the score's denominator.
- `kind: wording`: only the wording of a text nobody relies on changes; still counted as not killed.
An entry that matches no survivor of a module this run checked is stale (the code or a test moved on): the run fails
until it is removed, so the ledger never hides a mutant that a test now kills or that no longer exists."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

MUTMUT = Path(sys.executable).with_name("mutmut")
LEDGER = Path(__file__).with_name("mutation_equivalents")
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
_LINE = re.compile(r"^\s*(?P<name>shared\.core\.\S+): (?P<status>.+)$")
_MUTANT = re.compile(r"^shared\.core\.(?P<module>\w+)\.x(?:_|ǁ)(?P<function>.+)__mutmut_\d+$")


class Kind(StrEnum):
    EQUIVALENT = "equivalent"
    WORDING = "wording"


@dataclass(frozen=True)
class Justified:
    module: str
    function: str
    change: str
    kind: Kind
    why: str


@dataclass(frozen=True)
class Mutant:
    name: str
    status: str

    @property
    def module(self) -> str:
        return _MUTANT.match(self.name)["module"]

    @property
    def function(self) -> str:
        """`plan_cluster`, or `Class.method` for a method (mutmut spells it `xǁClassǁmethod`)."""
        return _MUTANT.match(self.name)["function"].replace("ǁ", ".")

    @property
    def killed(self) -> bool:
        return self.status in DETECTED


def results() -> list[Mutant]:
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], capture_output=True, text=True, check=True)
    found = (Mutant(m["name"], m["status"].strip()) for m in map(_LINE.match, out.stdout.splitlines()) if m)
    return [m for m in found if m.status != "not checked"]  # "not checked": outside MUTANTS


def diff(mutant: Mutant) -> str:
    shown = subprocess.run([str(MUTMUT), "show", mutant.name], capture_output=True, text=True).stdout.splitlines()
    changed = [line for line in shown if line[:1] in "-+" and not line.startswith(("---", "+++"))]
    return " | ".join(line.strip() for line in changed)


def ledger(folder: Path = LEDGER) -> list[Justified]:
    """Every justified survivor; a malformed entry raises, naming its file."""
    entries = []
    for path in sorted(folder.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            try:
                module = raw.get("module") or path.stem.split("_", 1)[0]
                entries.append(Justified(module, raw["function"], raw["change"], Kind(raw["kind"]), raw["why"]))
            except (KeyError, ValueError, AttributeError) as error:
                raise SystemExit(f"{path}: malformed entry {raw!r} ({error}); see tests/mutation_score.py") from None
    return entries


@dataclass
class Summary:
    counts: dict[str, Counter]
    unexplained: list[tuple[Mutant, str]]  # survivors with their diff
    wording: list[tuple[Mutant, Justified]]
    stale: list[Justified]


def summarise(mutants: list[Mutant], change_of: Callable[[Mutant], str], justified: list[Justified]) -> Summary:
    """Score per module over the non-equivalent mutants; an entry is stale when its function was checked this run
    and no survivor matches it."""
    by_key = {(j.module, j.function, j.change): j for j in justified}
    checked = {(m.module, m.function) for m in mutants}
    used: set[tuple[str, str, str]] = set()
    summary = Summary(defaultdict(Counter), [], [], [])
    for mutant in sorted(mutants, key=lambda m: m.name):
        tally = summary.counts[mutant.module]
        tally["total"] += 1
        if mutant.killed:
            tally["killed"] += 1
            continue
        change = change_of(mutant)
        key = (mutant.module, mutant.function, change)
        entry = by_key.get(key)
        if entry is None:
            summary.unexplained.append((mutant, change))
            continue
        used.add(key)
        if entry.kind is Kind.EQUIVALENT:
            tally["equivalent"] += 1
        else:
            summary.wording.append((mutant, entry))
    summary.stale = [
        j for j in justified if (j.module, j.function) in checked and (j.module, j.function, j.change) not in used
    ]
    return summary


def main() -> int:
    summary = summarise(results(), diff, ledger())
    print(f"{'module':<12} {'killed':>7} {'total':>6} {'equiv':>6} {'score':>7}  (killed / non-equivalent)")
    overall = Counter()
    for module, tally in sorted(summary.counts.items()):
        overall += tally
        print(_row(module, tally))
    print(_row("core", overall))
    if summary.wording:
        print(f"\n{len(summary.wording)} wording-only survivors (counted as not killed):")
        for mutant, entry in summary.wording:
            print(f"  {mutant.module}: {mutant.function}: {entry.why}")
    if summary.unexplained:
        print(f"\n{len(summary.unexplained)} survivors neither killed nor justified (module: function: diff):")
        for mutant, change in summary.unexplained:
            print(f"  {mutant.module}: {mutant.function}: {change}")
    if summary.stale:
        print(f"\n{len(summary.stale)} stale ledger entries (no such survivor any more: remove them):")
        for entry in summary.stale:
            print(f"  {entry.module}: {entry.function}: {entry.change}")
        return 1
    return 0


def _row(name: str, tally: Counter) -> str:
    scored = tally["total"] - tally["equivalent"]
    return (
        f"{name:<12} {tally['killed']:>7} {tally['total']:>6} {tally['equivalent']:>6} "
        f"{tally['killed'] / max(scored, 1):>7.1%}"
    )


if __name__ == "__main__":
    sys.exit(main())
