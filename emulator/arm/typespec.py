"""What the emulator knows of one ARM resource type: its spelling, parent, read-only shaping, actions, companions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Shape = Callable[[dict, dict | None, str], None]  # (resource, existing, tenant): fill read-only properties, or raise
Action = str | Callable[[dict], dict]  # a handler name on ArmService (needs its collaborators), or a pure function


def _no_shape(resource: dict, existing: dict | None, tenant: str) -> None:
    return None


@dataclass
class TypeSpec:
    canonical: str  # the type spelling ARM returns
    parent: str | None = None  # lower-case parent type that must exist
    shape: Shape = _no_shape
    actions: dict[str, Action] = field(default_factory=dict)  # lower action name -> handler
    tracked: bool = False  # a tracked resource: location + tags, listed by `/resources`
    # resources the provider creates with a new resource (a storage account's `blobServices/default`, a namespace's
    # RootManageSharedAccessKey rule, a flexible server's `postgres` database)
    companions: Callable[[dict], list[tuple[str, str, dict]]] | None = None  # -> [(id, type key, body)]
    parent_check: Callable[[dict, dict], None] | None = None  # (parent, body): refuse a child the parent can't hold
    # How the provider answers a PUT that creates and a DELETE: 200/201 at once, or 202 with an operation to poll
    # (what each provider's SDK accepts: storage 200|202, Cosmos DB 200 and 202 deletes, PostgreSQL 202 only).
    created_status: int = 201
    deleted_status: int = 200
