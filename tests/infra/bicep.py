"""A small evaluator of the Bicep expressions infra/ is written in, over pycep-parser's JSON, so tests check what
the templates compute (names, conditions, settings) instead of a copy of their logic. Bicep cannot be compiled
here; this covers the handful of functions the templates use and fails loudly on anything else.

pycep keeps string literals raw (interpolations and escapes included) and does not tell an identifier from a
literal string: a string naming a parameter, variable, loop item or resource in scope is read as that symbol."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
_ESCAPES = {"\\": "\\", "'": "'", "$": "$", "n": "\n", "r": "\r", "t": "\t"}


class UnsupportedError(Exception):
    """The template uses a construct this evaluator does not know: extend the evaluator, do not guess."""


@cache
def parse(relative: str) -> dict:
    return BicepParser().parse(file_path=INFRA / relative)


@cache
def _expression(text: str) -> Any:
    return BicepParser().parse(text=f"var v = {text}\n")["variables"]["v"]["value"]


def unique_string(*parts: str) -> str:
    """Stands in for uniqueString: 13 lower-case letters and digits, deterministic per input, like ARM's."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:13]


@dataclass(frozen=True)
class Deployment:
    """Where a template is deployed: what subscription(), resourceGroup() and environment() return."""

    subscription_id: str = "00000000-0000-4000-8000-000000000001"
    resource_group: str = "rg-sc-autopilot"
    location: str = "westeurope"

    def subscription(self) -> dict:
        return {"id": f"/subscriptions/{self.subscription_id}", "subscriptionId": self.subscription_id}

    def group(self) -> dict:
        return {
            "id": f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}",
            "name": self.resource_group,
            "location": self.location,
        }


# What environment() returns in AzureCloud (ARM `GET /metadata/endpoints`; FACTS.md section 10: keyvaultDns has a
# leading dot).
AZURE_CLOUD = {
    "name": "AzureCloud",
    "resourceManager": "https://management.azure.com/",
    "authentication": {"audiences": ["https://management.core.windows.net/", "https://management.azure.com/"]},
    "suffixes": {"storage": "core.windows.net", "keyvaultDns": ".vault.azure.net"},
}


@dataclass
class Symbol:
    """A resource or module: its properties are not known before deployment, so they read as placeholders."""

    name: str

    def get(self, key: str) -> Any:
        return Symbol(f"{self.name}.{key}")

    def __str__(self) -> str:
        return f"<{self.name}>"


@dataclass
class Template:
    """One .bicep file with parameter values bound; `value(node)` evaluates any expression node of it."""

    relative: str
    params: Mapping[str, Any] = field(default_factory=dict)
    deployment: Deployment = field(default_factory=Deployment)

    def __post_init__(self) -> None:
        self.doc = parse(self.relative)
        unknown = set(self.params) - set(self.doc.get("parameters", {}))
        if unknown:
            raise UnsupportedError(f"{self.relative} has no parameters {sorted(unknown)}")

    # -- symbols -------------------------------------------------------------------------------------------------
    def symbol(self, name: str, local: Mapping[str, Any]) -> tuple[bool, Any]:
        if name in local:
            return True, local[name]
        if name in self.params:
            return True, self.params[name]
        parameters = self.doc.get("parameters", {})
        if name in parameters:
            if "default" not in parameters[name]:
                raise UnsupportedError(f"{self.relative}: parameter {name} has no value")
            return True, self.value(parameters[name]["default"])
        if name in self.doc.get("variables", {}):
            return True, self.variable(name)
        if name in self.doc.get("resources", {}) or name in self.doc.get("modules", {}):
            return True, Symbol(name)
        return False, None

    def variable(self, name: str) -> Any:
        return self.value(self.doc["variables"][name]["value"])

    # -- evaluation ----------------------------------------------------------------------------------------------
    def value(self, node: Any, local: Mapping[str, Any] | None = None) -> Any:
        local = local or {}
        if isinstance(node, str):
            found, value = self.symbol(node, local)
            return value if found else self.literal(node, local)
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, list):
            return [self.value(item, local) for item in node]
        if "function" in node and set(node) == {"function"}:
            return self.call(node["function"], local)
        if "operator" in node and set(node) == {"operator"}:
            return self.operate(node["operator"], local)
        if node.get("type") == "lambda_expression":
            raise UnsupportedError("a lambda outside map/filter")
        if "loop_type" in node:  # a variable's for-expression: [for item in array: expression]
            detail = node["loop_type"]["detail"]
            if node["loop_type"]["type"] != "array" or node.get("condition") is not None:
                raise UnsupportedError(f"{self.relative}: loop {node['loop_type']['type']}")
            items = self.value(detail["array_name"], local)
            return [self.value(node["config"], {**local, detail["item_name"]: item}) for item in items]
        return {key: self.value(item, local) for key, item in node.items()}

    def literal(self, raw: str, local: Mapping[str, Any]) -> str:
        """A Bicep string literal as pycep keeps it: escapes and ${...} interpolations still in the text."""
        out, i = [], 0
        while i < len(raw):
            char = raw[i]
            if char == "\\" and i + 1 < len(raw):
                out.append(_ESCAPES.get(raw[i + 1], raw[i + 1]))
                i += 2
            elif raw.startswith("${", i):
                end = _closing_brace(raw, i + 2)
                out.append(_text(self.value(_expression(raw[i + 2 : end]), local)))
                i = end + 1
            else:
                out.append(char)
                i += 1
        return "".join(out)

    def call(self, function: dict, local: Mapping[str, Any]) -> Any:
        kind, params = function["type"], function.get("parameters") or {}
        if kind in ("map", "filter"):
            items = self.value(next(iter(params.values())), local)
            body = list(params.values())[1]["detail"]
            run = lambda item: self.value(body["expression"], {**local, body["var_1"]: item})  # noqa: E731
            return [run(i) for i in items] if kind == "map" else [i for i in items if run(i)]
        args = [self.value(arg, local) for arg in params.values()]
        if kind in _CONTEXT:
            return _CONTEXT[kind](self.deployment, *args)
        if kind not in _FUNCTIONS:
            raise UnsupportedError(f"{self.relative}: function {kind}")
        return _FUNCTIONS[kind](*args)

    def operate(self, operator: dict, local: Mapping[str, Any]) -> Any:
        kind, operands = operator["type"], operator["operands"]
        if kind == "property_accessor":
            target = self.value(operands["operand_1"], local)
            for step in _chain(operands["operand_2"]):
                if isinstance(step, int) and isinstance(target, list):
                    target = target[step]
                elif isinstance(target, dict | Symbol):
                    target = target.get(step)
                else:
                    target = Symbol(f"{target}.{step}")
            return target
        if kind == "index_accessor":
            target = self.value(operands["operand_1"], local)
            return target[self.value(operands["operand_2"], local)]
        if kind == "conditional":
            chosen = "true_value" if self.value(operands["condition"], local) else "false_value"
            return self.value(operands[chosen], local)
        values = [self.value(item, local) for item in operands.values()]
        if kind not in _OPERATORS:
            raise UnsupportedError(f"{self.relative}: operator {kind}")
        return _OPERATORS[kind](*values)

    # -- what tests ask ------------------------------------------------------------------------------------------
    def instances(self, section: str, symbol: str) -> list[tuple[dict, dict]]:
        """(evaluated config, loop locals) of each instance of a resource or module, conditions applied."""
        entry = self.doc[section][symbol]["config"]
        loop = entry.get("loop_type")
        if loop is None:
            condition = entry.get("condition")
            body = entry.get("config", entry)
            if condition is not None and not self.value(condition):
                return []
            return [(body, {})]
        detail = loop["detail"]
        items = self.value(detail["array_name"])
        out = []
        for index, item in enumerate(items):
            local = {detail["item_name"]: item}
            if detail.get("index_name"):
                local[detail["index_name"]] = index
            out.append((entry["config"], local))
        return out

    def names(self, section: str = "resources") -> list[tuple[str, str, str]]:
        """(symbol, type, name) of every instance of every resource (or module deployment) in the file."""
        found = []
        for symbol, entry in self.doc.get(section, {}).items():
            kind = entry.get("type") if section == "resources" else "Microsoft.Resources/deployments"
            if section == "resources" and entry.get("existing"):
                continue
            for body, local in self.instances(section, symbol):
                found.append((symbol, kind, _text(self.value(body["name"], local))))
        return found

    def module(self, symbol: str) -> list[Template]:
        """The module's own template once per instance, with the parameters this file passes."""
        path = self.doc["modules"][symbol]["detail"]["path"]
        relative = str((Path(self.relative).parent / path).as_posix())
        return [
            Template(relative, {k: self.value(v, local) for k, v in body["params"].items()}, self.scope(body, local))
            for body, local in self.instances("modules", symbol)
        ]

    def scope(self, body: dict, local: Mapping[str, Any]) -> Deployment:
        """Where a module instance deploys: its `scope` (subscription(...) or resourceGroup(...)), else here."""
        if body.get("scope") is None:
            return self.deployment
        target = self.value(body["scope"], local)["id"].split("/")
        group = target[4] if len(target) > 4 else self.deployment.resource_group
        return Deployment(target[2], group, self.deployment.location)


def _closing_brace(raw: str, start: int) -> int:
    depth, quoted = 1, False
    for i in range(start, len(raw)):
        char = raw[i]
        if char == "'" and raw[i - 1] != "\\":
            quoted = not quoted
        elif not quoted and char == "{":
            depth += 1
        elif not quoted and char == "}":
            depth -= 1
            if depth == 0:
                return i
    raise UnsupportedError(f"unclosed interpolation in {raw!r}")


def _chain(node: Any) -> list[str | int]:
    """The keys and indexes after the first operand: pycep nests `a.b.c[0]` as a.(b.(c[0]))."""
    if isinstance(node, str | int):
        return [node]
    operator = node["operator"]
    operands = operator["operands"]
    if operator["type"] not in ("property_accessor", "index_accessor") or not isinstance(
        operands["operand_2"], str | int | dict
    ):
        raise UnsupportedError(f"accessor {operator['type']}")
    return [*_chain(operands["operand_1"]), *_chain(operands["operand_2"])]


def _text(value: Any) -> str:
    """ARM's string(): booleans become 'True' / 'False', as in string(dryRun) or '${flag}'."""
    return str(value)


def _take(value: Any, count: int) -> Any:
    return value[: max(count, 0)]


def _guid(*parts: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(map(_text, parts))))


def _subscription(here: Deployment, subscription_id: str | None = None) -> dict:
    return Deployment(subscription_id or here.subscription_id, here.resource_group, here.location).subscription()


def _resource_group(here: Deployment, name: str | None = None, subscription_id: str | None = None) -> dict:
    """resourceGroup(), resourceGroup(name) or resourceGroup(subscriptionId, name), as pycep orders them."""
    return Deployment(subscription_id or here.subscription_id, name or here.resource_group, here.location).group()


_CONTEXT: dict[str, Callable[..., Any]] = {
    "subscription": _subscription,
    "resource_group": _resource_group,
    "environment": lambda _: AZURE_CLOUD,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "to_lower": lambda s: _text(s).lower(),
    "to_upper": lambda s: _text(s).upper(),
    "take": _take,
    "skip": lambda value, count: value[max(count, 0) :],
    "replace": lambda s, old, new: _text(s).replace(old, new),
    "unique_string": lambda *parts: unique_string(*map(_text, parts)),
    "guid": _guid,
    "join": lambda items, sep: sep.join(map(_text, items)),
    "split": lambda s, sep: _text(s).split(sep),
    "trim": lambda s: _text(s).strip(),
    "empty": lambda v: not v,
    "starts_with": lambda s, prefix: _text(s).lower().startswith(_text(prefix).lower()),
    "last": lambda items: items[-1],
    "string": _text,
    "length": len,
    "subscription_resource_id": lambda *parts: "/providers/" + "/".join(_text(p) for p in parts if p is not None),
}
_OPERATORS: dict[str, Callable[..., Any]] = {
    "not": lambda v: not v,
    "equals": lambda a, b: a == b,
    "not_equals": lambda a, b: a != b,
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
}


def condition_sets(condition: str) -> dict[str, dict[str, set[str]]]:
    """Per action an ABAC role-assignment condition constrains, the attribute -> allowed values it requires."""
    found: dict[str, dict[str, set[str]]] = {}
    for action, body in re.findall(r"ActionMatches\{'([^']+)'\}\)\)\s*OR\s*\(([^()]*)\)", condition):
        found[action] = {
            attribute: {v.strip().strip("'") for v in values.split(",")}
            for attribute, values in re.findall(r"@\w+\[[^\]:]+:(\w+)\]\s+ForAnyOfAnyValues:\w+\s*\{([^}]*)\}", body)
        }
    return found
