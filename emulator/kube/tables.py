"""Server-side Tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): what `kubectl get` prints.

kubectl asks the API server to format rows; without this it falls back to a bare `NAME AGE`. Columns, cells
and the age format follow the apiserver's printers (`pkg/printers/internalversion/printers.go`,
`apimachinery/pkg/util/duration.HumanDuration`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.kube.resources import Kind

TABLE_MEDIA = "as=Table"


@dataclass(frozen=True)
class Column:
    name: str
    cell: Callable[[dict], object]
    type: str = "string"
    priority: int = 0  # 1: shown by `kubectl get -o wide` only
    format: str = ""
    description: str = ""

    def definition(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


def wants_table(accept: str | None) -> bool:
    return TABLE_MEDIA in (accept or "")


def table(kind: Kind, objects: list[dict], metadata: dict, include_object: str | None) -> dict:
    """A meta.k8s.io/v1 Table of `objects`; rows carry the object's metadata unless `includeObject=None`."""
    # Age is the last column kubectl shows by default; wide-only columns follow it, as the apiserver orders them
    columns = (NAME, *COLUMNS.get(kind.plural, ()), AGE, *WIDE.get(kind.plural, ()))
    now = datetime.now(UTC)
    rows = []
    for obj in objects:
        row: dict = {"cells": [_age(obj, now) if c is AGE else c.cell(obj) for c in columns]}
        included = _included(obj, include_object)
        if included is not None:
            row["object"] = included
        rows.append(row)
    definitions = [c.definition() for c in columns]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": definitions, "rows": rows}  # fmt: skip


def human_duration(seconds: float) -> str:
    """apimachinery's HumanDuration: `45s`, `5m3s`, `2h10m`, `3d4h`, `400d`, `2y30d`."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y{rest}d" if rest else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _included(obj: dict, include_object: str | None) -> dict | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _age(obj: dict, now: datetime) -> str:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return "<unknown>"
    return human_duration((now - _parse(created)).total_seconds())


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _pod_spec(obj: dict) -> dict:
    spec = _spec(obj)
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"].get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def _containers(obj: dict) -> str:
    return ",".join(c.get("name", "") for c in _pod_spec(obj).get("containers") or [])


def _images(obj: dict) -> str:
    return ",".join(c.get("image", "") for c in _pod_spec(obj).get("containers") or [])


def _selector(obj: dict) -> str:
    """metav1.FormatLabelSelector."""
    selector = _spec(obj).get("selector")
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        operator, values = expression.get("operator", ""), ",".join(expression.get("values") or [])
        key = expression.get("key", "")
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
             "DoesNotExist": f"!{key}"}.get(operator, f"{key} {operator} ({values})")
        )  # fmt: skip
    return ",".join(parts) or "<none>"


def _ready(obj: dict) -> str:
    return f"{_status(obj).get('readyReplicas', 0)}/{_spec(obj).get('replicas', 1)}"


def _job_status(obj: dict) -> str:
    conditions = {c.get("type"): c.get("status") for c in _status(obj).get("conditions") or []}
    for condition in ("Failed", "Complete", "Suspended"):
        if conditions.get(condition) == "True":
            return condition
    return "Running"


def _completions(obj: dict) -> str:
    return f"{_status(obj).get('succeeded', 0)}/{_spec(obj).get('completions', 1)}"


def _duration(obj: dict) -> str:
    status = _status(obj)
    if not status.get("startTime"):
        return ""
    end = _parse(status["completionTime"]) if status.get("completionTime") else datetime.now(UTC)
    return human_duration((end - _parse(status["startTime"])).total_seconds())


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _node_selector(obj: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((_pod_spec(obj).get("nodeSelector") or {}).items())) or "<none>"


def _count(field: str) -> Callable[[dict], int]:
    return lambda obj: int(_status(obj).get(field, 0))


NAME = Column("Name", _name, format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", lambda obj: "", description="CreationTimestamp: when this object was created.")
# Per kind, the columns between NAME and AGE.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "namespaces": (Column("Status", lambda o: _status(o).get("phase", ""), description="The status of the namespace"),),
    "secrets": (
        Column("Type", lambda o: o.get("type", "Opaque")),
        Column("Data", lambda o: len(o.get("data") or {}) + len(o.get("stringData") or {}), type="integer"),
    ),
    "serviceaccounts": (Column("Secrets", lambda o: len(o.get("secrets") or []), type="integer"),),
    "configmaps": (
        Column("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}), type="integer"),
    ),
    "deployments": (
        Column("Ready", _ready, description="Number of the pod with ready state"),
        Column("Up-to-date", _count("updatedReplicas"), type="integer"),
        Column("Available", _count("availableReplicas"), type="integer"),
    ),
    "statefulsets": (Column("Ready", _ready),),
    "daemonsets": (
        Column("Desired", _count("desiredNumberScheduled"), type="integer"),
        Column("Current", _count("currentNumberScheduled"), type="integer"),
        Column("Ready", _count("numberReady"), type="integer"),
        Column("Up-to-date", _count("updatedNumberScheduled"), type="integer"),
        Column("Available", _count("numberAvailable"), type="integer"),
        Column("Node Selector", _node_selector),
    ),
    "jobs": (Column("Status", _job_status), Column("Completions", _completions), Column("Duration", _duration)),
    "cronjobs": (
        Column("Schedule", lambda o: _spec(o).get("schedule", "")),
        Column("Timezone", lambda o: _spec(o).get("timeZone") or "<none>"),
        Column("Suspend", lambda o: "True" if _spec(o).get("suspend") else "False"),
        Column("Active", lambda o: len(_status(o).get("active") or []), type="integer"),
        Column("Last Schedule", lambda o: "<none>"),
    ),
}
_WORKLOAD_WIDE = (
    Column("Containers", _containers, priority=1),
    Column("Images", _images, priority=1),
    Column("Selector", _selector, priority=1),
)
WIDE: dict[str, tuple[Column, ...]] = {
    "deployments": _WORKLOAD_WIDE,
    "statefulsets": _WORKLOAD_WIDE[:2],
    "daemonsets": _WORKLOAD_WIDE,
    "jobs": _WORKLOAD_WIDE,
    "cronjobs": _WORKLOAD_WIDE,
}
