"""ABAC conditions on role assignments, in the one form the delegation pattern uses (MicrosoftDocs
role-based-access-control/delegate-role-assignments-examples.md, "Constrain roles and principal types"):

    ((!(ActionMatches{'<action>'})) OR (@Request[<ns/type>:<attribute>] ForAnyOfAnyValues:<operator> {<values>}
      AND ...)) AND ((!(ActionMatches{'<action>'})) OR (...))

Operators: GuidEquals, StringEqualsIgnoreCase, StringEquals. Any other form is refused when the scenario loads (a
condition the emulator cannot evaluate must not silently grant or deny).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLAUSE = re.compile(r"\(\s*\(\s*!\s*\(\s*ActionMatches\s*\{\s*'([^']+)'\s*\}\s*\)\s*\)\s*OR\s*\((.*)\)\s*\)", re.S)
_TEST = re.compile(
    r"@(?:Request|Resource)\[([\w./]+):(\w+)\]\s+ForAnyOfAnyValues:(GuidEquals|StringEqualsIgnoreCase|StringEquals)"
    r"\s*\{([^}]*)\}"
)


@dataclass(frozen=True)
class Test:
    attribute: str  # e.g. RoleDefinitionId, PrincipalType
    operator: str
    values: frozenset[str]

    def holds(self, attributes: dict[str, str]) -> bool:
        value = attributes.get(self.attribute)
        if value is None:
            return False
        if self.operator == "GuidEquals":
            return value.rsplit("/", 1)[-1].lower() in self.values
        if self.operator == "StringEqualsIgnoreCase":
            return value.lower() in self.values
        return value in self.values


@dataclass(frozen=True)
class Condition:
    clauses: tuple[tuple[str, tuple[Test, ...]], ...]  # (action the clause constrains, tests that must all hold)

    def admits(self, action: str, attributes: dict[str, str] | None) -> bool:
        """False when a clause for this action has a test the request's attributes fail (or gives none)."""
        for constrained, tests in self.clauses:
            if constrained.lower() != action.lower():
                continue
            if attributes is None or not all(test.holds(attributes) for test in tests):
                return False
        return True


def parse(text: str) -> Condition:
    clauses = []
    for part in _split_top_level_and(text.strip()):
        match = _CLAUSE.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"unsupported ABAC condition clause: {part.strip()[:120]}")
        tests = []
        for expression in re.split(r"\s+AND\s+", match.group(2).strip()):
            found = _TEST.fullmatch(expression.strip())
            if found is None:
                raise ValueError(f"unsupported ABAC condition test: {expression.strip()[:120]}")
            operator = found.group(3)
            values = [v.strip().strip("'") for v in found.group(4).split(",") if v.strip()]
            if operator != "StringEquals":
                values = [v.lower() for v in values]
            tests.append(Test(found.group(2), operator, frozenset(values)))
        clauses.append((match.group(1), tuple(tests)))
    return Condition(tuple(clauses))


def _split_top_level_and(text: str) -> list[str]:
    """Split `(A) AND (B)` at the ANDs outside any parentheses."""
    parts, depth, start = [], 0, 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and text.startswith(" AND ", index):
            parts.append(text[start:index])
            start = index + 5
            index += 4
        index += 1
    parts.append(text[start:])
    return parts
