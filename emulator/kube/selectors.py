"""Label and field selectors, with the apiserver's grammar (=, ==, !=, in, notin, exists, !exists)."""

from __future__ import annotations

import re
from collections.abc import Callable

from emulator.kube.errors import status_error

Predicate = Callable[[dict], bool]
_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]


def label_selector(selector: str) -> Predicate:
    checks: list[Predicate] = []
    for requirement in _split(selector):
        checks.append(_label_requirement(requirement))
    return lambda obj: all(check((obj.get("metadata") or {}).get("labels") or {}) for check in checks)


def _label_requirement(text: str) -> Predicate:
    if match := _SET.match(text):
        key, operator, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQ.match(text):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(text):
        negate, key = match.group(1) == "!", match.group(2)
        return lambda labels: (key in labels) != negate
    raise status_error(400, "BadRequest", f"unable to parse requirement: {text.strip()!r}")


def field_selector(selector: str) -> Predicate:
    checks: list[Predicate] = []
    for requirement in _split(selector):
        match = _EQ.match(requirement)
        if match is None or match.group(1) not in ("metadata.name", "metadata.namespace"):
            raise status_error(400, "BadRequest", f'field label not supported: "{requirement.strip()}"')
        field, operator, value = match.group(1).split(".")[1], match.group(2), match.group(3)
        checks.append(
            (lambda f, v: lambda obj: obj["metadata"].get(f) != v)(field, value)
            if operator == "!="
            else (lambda f, v: lambda obj: obj["metadata"].get(f) == v)(field, value)
        )
    return lambda obj: all(check(obj) for check in checks)
