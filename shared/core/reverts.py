"""Wiring removed again by someone else: noticed, counted on the workload itself, and not fought. Pure.

Where the history lives: the annotation `sc-autopilot.io/reverts` on the workload, next to `sc-autopilot.io/wiring`
(what we added). The evidence of a revert is on the workload (our record says we added a wiring; the pod template no
longer has it; managedFields say who wrote last), so the count is read in the same list the reconcile already makes:
no extra call, no storage account needed by the CLI or the timer, shared by every instance, kept as long as the
workload, deleted with it. Server-side apply (Flux, Argo CD), client-side `kubectl apply` and Helm's three-way merge
keep annotations they do not own; a full replace (`kubectl replace`, Argo CD `Replace=true`) erases this history
together with our wiring record, and the workload is then wired as a new one (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.core.codes import Code, Finding
from shared.core.gitops import FIELD_MANAGER, snippet
from shared.core.manifests import REVERTS_ANNOTATION, WI_LABEL, carries, read_wirings, template_path
from shared.core.model import Wiring, WorkloadRef

REVERT_LIMIT = 2  # reverts within the window after which we stop re-patching


@dataclass(frozen=True)
class Revert:
    at: datetime
    by: str  # the field manager that removed the wiring, or "unknown"


@dataclass(frozen=True)
class RevertHistory:
    reverts: tuple[Revert, ...] = ()
    stopped: str | None = None  # the fingerprint of the wiring we no longer re-patch

    @property
    def last_by(self) -> str:
        return self.reverts[-1].by if self.reverts else "unknown"

    def to_annotation(self) -> str:
        data: dict = {"reverts": [{"at": r.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "by": r.by} for r in self.reverts]}
        if self.stopped:
            data["stopped"] = self.stopped
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


def read_history(manifest: dict) -> RevertHistory:
    """The history recorded on the workload; an unreadable annotation counts as none (we never guess)."""
    raw = ((manifest.get("metadata") or {}).get("annotations") or {}).get(REVERTS_ANNOTATION)
    if not raw:
        return RevertHistory()
    try:
        data = json.loads(raw)
        reverts = tuple(Revert(datetime.fromisoformat(r["at"].replace("Z", "+00:00")), str(r["by"]))
                        for r in data.get("reverts") or [])  # fmt: skip
        return RevertHistory(reverts, data.get("stopped") or None)
    except (ValueError, TypeError, KeyError, AttributeError):
        return RevertHistory()


def fingerprint(wirings: dict[str, Wiring]) -> str:
    """Which wiring was asked for: a change of the target's tags that changes it resumes re-patching."""
    data = {name: wirings[name].to_dict() for name in sorted(wirings)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def reverted(manifest: dict, wirings: dict[str, Wiring]) -> dict[str, Wiring]:
    """The wirings we added (as our record says) that someone has since removed from the pod template."""
    records = read_wirings(manifest)
    return {name: w for name, w in wirings.items() if records.get(name) == w and not carries(manifest, w)}


def stopped(manifest: dict, wirings: dict[str, Wiring]) -> RevertHistory | None:
    """The history, when we stopped re-patching exactly this wiring and the manifest still lacks it."""
    history = read_history(manifest)
    if history.stopped and history.stopped == fingerprint(wirings) and reverted(manifest, wirings):
        return history
    return None


def record(
    history: RevertHistory, at: datetime, by: str, window: timedelta, wirings: dict[str, Wiring]
) -> RevertHistory:
    """One more revert: the reverts within the window, and the stop once there are REVERT_LIMIT of them."""
    recent = (*(r for r in history.reverts if at - r.at < window), Revert(at, by))
    return replace(history, reverts=recent, stopped=fingerprint(wirings) if len(recent) >= REVERT_LIMIT else None)


def with_history(manifest: dict, history: RevertHistory) -> dict:
    """The manifest with the history recorded in our annotation."""
    result = json.loads(json.dumps(manifest))
    result.setdefault("metadata", {}).setdefault("annotations", {})[REVERTS_ANNOTATION] = history.to_annotation()
    return result


def reverted_finding(cluster_id: str, ref: WorkloadRef, manifest: dict, history: RevertHistory,
                     wirings: dict[str, Wiring]) -> Finding:  # fmt: skip
    """WIRING_REVERTED: who keeps removing the wiring, and what to commit so it stays."""
    gone = reverted(manifest, wirings) or wirings
    times = ", ".join(r.at.strftime("%Y-%m-%dT%H:%M:%SZ") for r in history.reverts)
    return Finding(
        Code.WIRING_REVERTED,
        cluster_id,
        f"{ref}: the wiring of {', '.join(w.secret for w in gone.values())} was removed by {history.last_by} "
        f"{len(history.reverts)} time(s) ({times}) after sc-autopilot had added it: no longer re-patched",
        f"commit the wiring below to the manifest {history.last_by} applies (re-patching resumes once the workload "
        "carries it, or when the target's tags ask for another wiring)",
        "sc-workloads",
        snippet(manifest, ref, list(gone.values())),
    )


def remover(manifest: dict, wirings: dict[str, Wiring]) -> str:
    """Who removed our wiring, from managedFields: the manager that now owns a field we had set (e.g. an envFrom
    taken back by a server-side apply), else the one that wrote last; "unknown" without managedFields."""
    entries = [e for e in (manifest.get("metadata") or {}).get("managedFields") or []
               if isinstance(e, dict) and e.get("manager") != FIELD_MANAGER]  # fmt: skip
    for entry in entries:
        if any(_owns(entry.get("fieldsV1") or {}, path) for path in _our_paths(manifest, wirings)):
            return str(entry.get("manager"))
    latest = max(entries, key=lambda e: str(e.get("time") or ""), default=None)
    return str(latest.get("manager")) if latest else "unknown"


def _our_paths(manifest: dict, wirings: dict[str, Wiring]) -> list[tuple[str, ...]]:
    template = tuple(f"f:{key}" for key in template_path(manifest["kind"]))
    paths = []
    for wiring in wirings.values():
        for container in wiring.containers:
            key = "k:" + json.dumps({"name": container}, separators=(",", ":"))
            paths.append((*template, "f:spec", "f:containers", key, "f:envFrom"))
        if wiring.service_account:
            paths.append((*template, "f:spec", "f:serviceAccountName"))
            paths.append((*template, "f:metadata", "f:labels", f"f:{WI_LABEL}"))
    return paths


def _owns(fields: dict, path: tuple[str, ...]) -> bool:
    node = fields
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
