"""Azure Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources` (api-version 2021-03-01, the
azure-mgmt-resourcegraph default) over the same resources ARM holds, and its own per-user quota.

Sources (docs/FACTS.md section 11): `governance/resource-graph/concepts/guidance-for-throttled-requests.md` (a user
may send 15 queries per 5-second window; every answer carries `x-ms-user-quota-remaining` and
`x-ms-user-quota-resets-after` as hh:mm:ss), `concepts/work-with-data.md` (`$top` up to 1000, `$skipToken` pages),
the REST reference for `Resources - Resources` (QueryRequest / QueryResponse bodies) and `reference/supported-tables-
resources.md` (`resources`, `kubernetesconfigurationresources`).

The query language is a small, strict subset of KQL, enough for the queries the app makes (anything else is a 400
`BadRequest`, as a query Resource Graph cannot parse is): `<table> [| where <clause> (and|or <clause>)*]*
[| project <column>, ...]`, where a clause is `<column> =~ '<value>'` (case-insensitive) or `<column> == '<value>'`.
Unlike the real service, answers are never behind ARM (Resource Graph is eventually consistent with it; the app
only takes from it what a lag cannot turn into a wrong action).
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from collections.abc import Callable

from emulator.arm import resources as rt
from emulator.arm.errors import arm_error
from emulator.arm.store import ArmStore
from emulator.http import Request, Response
from emulator.identity import Identity

QUOTA, WINDOW_SECONDS = 15, 5.0
MAX_TOP, DEFAULT_TOP = 1000, 100
PATH = "/providers/microsoft.resourcegraph/resources"
# Which resource types each table holds: `resources` the tracked resources (as ARM's /resources lists them).
TABLES: dict[str, Callable[[str], bool]] = {
    "resources": lambda t: t in rt.TRACKED,
    "kubernetesconfigurationresources": lambda t: t.startswith("microsoft.kubernetesconfiguration/"),
}
COLUMNS = ("id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy",
           "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation")  # fmt: skip
_CLAUSE = re.compile(r"\s*(\w+)\s*(=~|==)\s*'((?:[^'\\]|\\.)*)'\s*")


class UserQuota:
    """15 queries per 5-second window per user (principal), the window starting with its first query."""

    def __init__(self, quota: int = QUOTA, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.quota, self.window, self.clock = quota, window, clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, user: str) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until the window resets)."""
        now = self.clock()
        with self._lock:
            start, used = self._windows.get(user, (now, 0))
            if now - start >= self.window:
                start, used = now, 0
            allowed = used < self.quota
            used += allowed
            self._windows[user] = (start, used)
            return allowed, self.quota - used, max(0.0, start + self.window - now)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


def quota_headers(remaining: int, resets_after: float) -> dict[str, str]:
    seconds = math.ceil(resets_after)
    resets = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return {"x-ms-user-quota-remaining": str(remaining), "x-ms-user-quota-resets-after": resets}


def query(store: ArmStore, tenant_id: str, request: Request, identity: Identity) -> Response:
    body = request.json() or {}
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise arm_error(400, "BadRequest", "Please provide a query.")
    table, predicates, columns = _parse(text)
    subscriptions = {s.lower() for s in body.get("subscriptions") or []}
    options = body.get("options") or {}
    top = min(MAX_TOP, int(options.get("$top") or DEFAULT_TOP))
    skip = int(base64.urlsafe_b64decode(options["$skipToken"]).decode()) if options.get("$skipToken") else 0
    rows = []
    for resource in sorted(store.snapshot(), key=lambda r: r["id"].lower()):
        row = _row(resource, tenant_id)
        if not TABLES[table](row["type"]) or (subscriptions and row["subscriptionId"].lower() not in subscriptions):
            continue
        if not identity.allowed(f"{resource['type']}/read", resource["id"]):
            continue  # Resource Graph answers only what the caller may read
        if all(any(predicate(row) for predicate in clause) for clause in predicates):
            rows.append({c: row.get(c) for c in columns} if columns else row)
    page = rows[skip : skip + top]
    answer: dict = {"totalRecords": len(rows), "count": len(page), "data": page, "facets": [],
                    "resultTruncated": "false"}  # fmt: skip
    if skip + top < len(rows):
        answer["$skipToken"] = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
    return Response(200, answer)


def _row(resource: dict, tenant_id: str) -> dict:
    """A resource as Resource Graph shows it: type and resource group in lower case, as the service returns them."""
    parts = resource["id"].split("/")
    return {
        "id": resource["id"], "name": resource.get("name", parts[-1]), "type": resource["type"].lower(),
        "tenantId": tenant_id, "kind": resource.get("kind", ""), "location": resource.get("location", ""),
        "resourceGroup": parts[4].lower() if len(parts) > 4 else "", "subscriptionId": parts[2],
        "managedBy": resource.get("managedBy", ""), "sku": resource.get("sku"), "plan": resource.get("plan"),
        "properties": resource.get("properties") or {}, "tags": resource.get("tags") or {},
        "identity": resource.get("identity"), "zones": resource.get("zones"),
        "extendedLocation": resource.get("extendedLocation"),
    }  # fmt: skip


def _parse(text: str) -> tuple[str, list[list[Callable[[dict], bool]]], tuple[str, ...]]:
    """(table, where-clauses as a conjunction of disjunctions, projected columns)."""
    stages = [s.strip() for s in text.split("|")]
    table = stages[0].lower()
    if table not in TABLES:
        raise arm_error(400, "BadRequest", f"Query is invalid: table '{stages[0]}' is not supported here.")
    predicates: list[list[Callable[[dict], bool]]] = []
    columns: tuple[str, ...] = ()
    for stage in stages[1:]:
        verb, _, rest = stage.partition(" ")
        if verb == "where":
            for conjunct in re.split(r"\band\b", rest):
                predicates.append([_clause(atom) for atom in re.split(r"\bor\b", conjunct)])
        elif verb == "project":
            columns = tuple(c.strip() for c in rest.split(","))
            if not all(c in COLUMNS for c in columns):
                raise arm_error(400, "BadRequest", f"Query is invalid: unknown column in 'project {rest}'.")
        else:
            raise arm_error(400, "BadRequest", f"Query is invalid: operator '{verb}' is not supported here.")
    return table, predicates, columns


def _clause(atom: str) -> Callable[[dict], bool]:
    match = _CLAUSE.fullmatch(atom)
    if not match or match.group(1) not in COLUMNS:
        raise arm_error(400, "BadRequest", f"Query is invalid near '{atom.strip()[:80]}'.")
    column, operator, value = match.groups()
    if operator == "=~":
        return lambda row: str(row.get(column) or "").lower() == value.lower()
    return lambda row: str(row.get(column) or "") == value
