"""`make mutation`'s summary: mutmut's verdict on every mutant of the pure core, as a score per module, and the
survivors with their diffs (each must be killed by a test or be shown equivalent in the issue note)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

MUTMUT = Path(sys.executable).with_name("mutmut")
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
_LINE = re.compile(r"^\s*(?P<name>shared\.core\.\S+): (?P<status>.+)$")


def results() -> dict[str, str]:
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], capture_output=True, text=True, check=True)
    return {m["name"]: m["status"].strip() for m in map(_LINE.match, out.stdout.splitlines()) if m}


def module_of(mutant: str) -> str:
    return mutant.split(".x", 1)[0].rsplit(".", 1)[-1]


def diff(mutant: str) -> str:
    shown = subprocess.run([str(MUTMUT), "show", mutant], capture_output=True, text=True).stdout.splitlines()
    changed = [line for line in shown if line[:1] in "-+" and not line.startswith(("---", "+++"))]
    return " | ".join(line.strip() for line in changed)


def main() -> int:
    by_module: dict[str, Counter] = defaultdict(Counter)
    survivors: list[str] = []
    for mutant, status in sorted(results().items()):
        if status == "not checked":  # outside MUTANTS
            continue
        by_module[module_of(mutant)][status] += 1
        if status not in DETECTED:
            survivors.append(mutant)
    total = Counter()
    print(f"{'module':<12} {'killed':>7} {'total':>6} {'score':>7}  other")
    for module, counts in sorted(by_module.items()):
        total += counts
        killed, count = sum(counts[s] for s in DETECTED), sum(counts.values())
        other = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in DETECTED)
        print(f"{module:<12} {killed:>7} {count:>6} {killed / count:>7.1%}  {other}")
    killed, count = sum(total[s] for s in DETECTED), sum(total.values())
    print(f"{'core':<12} {killed:>7} {count:>6} {killed / max(count, 1):>7.1%}")
    print(f"\n{len(survivors)} not killed:")
    for mutant in survivors:
        print(f"  {mutant}: {diff(mutant)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
