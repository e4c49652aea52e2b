"""Plans: inert, printable data. A closed set of action types; nothing here performs anything.

Every action has an `id` (stable within a plan) and declares what it needs in `requires`: the ids of the actions of
the same plan that must have applied (or found nothing to do) before it may run. The executor has one rule
(`shared.core.policy.blocked_by`): an action whose prerequisite did not apply is not attempted. Dependencies are
data, not the order the planner happens to emit. (`requires` is not part of an action's equality: it says when the
action may run, not what it does.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.core.codes import Finding
from shared.core.ids import ResourceRef
from shared.core.model import Intent, ObjectKind, Wiring, WorkloadRef


@dataclass(frozen=True)
class RegisterProvider:
    subscription_id: str
    namespace: str

    requires: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return f"register/{self.namespace.lower()}"

    def describe(self) -> str:
        return f"register resource provider {self.namespace} in subscription {self.subscription_id}"


@dataclass(frozen=True)
class PutLinker:
    intent: Intent
    reason: str
    replaces: bool = False  # a linker of that name exists: the PUT overwrites it (held on a partial view)
    # the Key Vault version whose value the PUT carries (its consent is checked on exactly that version); None:
    # the current one at apply time
    version: str | None = None
    stale: bool = False  # re-put because the secret holds an older Key Vault version than the vault's current
    requires: tuple[str, ...] = field(default=(), compare=False)  # the provider registrations of the plan

    @property
    def id(self) -> str:
        return put_linker_id(self.intent.linker_name)

    def describe(self) -> str:
        i = self.intent
        return (
            f"put linker {i.linker_name} ({i.auth.value}, namespace {i.namespace}) -> {i.target.name} "
            f"on {i.cluster.name}: {self.reason}"
        )


@dataclass(frozen=True)
class DeleteLinker:
    cluster: ResourceRef
    name: str
    # the rewires taking its wiring away and the deletions of its secret and service account: kept until they apply
    requires: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return f"delete-linker/{self.name}"

    def describe(self) -> str:
        return f"delete linker {self.name} on {self.cluster.name}"


@dataclass(frozen=True)
class RewireWorkload:
    """Make our wirings on a workload exactly `wirings` (added, changed and removed in one update).

    With `after_linkers`, the patch follows linkers this plan still has to put: it is shown so the plan lists every
    write, and applied by the next pass of the same run, re-planned once those linkers' secrets exist (a workload is
    never wired to a secret that is not there); never at all if one of those linkers failed."""

    cluster: ResourceRef
    workload: WorkloadRef
    wirings: tuple[tuple[str, Wiring], ...]  # (linker name, wiring), sorted
    removes: bool = False  # takes back or changes a wiring recorded on the workload (an un-wiring)
    # The manifest the plan was made from: the first attempt patches from it (guarded by its resourceVersion)
    # instead of reading the workload again.
    basis: dict | None = field(default=None, compare=False, repr=False)
    after_linkers: tuple[str, ...] = ()  # sorted names of the linkers still to be put that this patch waits for
    digest: str | None = None  # the content digest of our secrets it reads (rotation.stamp_digest); None: unknown
    rolls: bool = False  # the patch changes that digest in the pod template: a rollout onto new secret content
    requires: tuple[str, ...] = field(default=(), compare=False)  # with after_linkers: those linkers' puts

    @property
    def id(self) -> str:
        return f"rewire/{self.workload}" + ("/next-pass" if self.after_linkers else "")

    def describe(self) -> str:
        linkers = ", ".join(name for name, _ in self.wirings) or "none"
        after = f" (after linker {', '.join(self.after_linkers)} is put)" if self.after_linkers else ""
        rolls = "; rolls out onto the changed secret content" if self.rolls else ""
        return f"rewire {self.workload} on {self.cluster.name}: our connections = {linkers}{after}{rolls}"


@dataclass(frozen=True)
class DeleteObject:
    """Delete a Service Connector secret or service account that nothing references any more."""

    cluster: ResourceRef
    kind: ObjectKind
    namespace: str
    name: str
    # the rewires of its namespace: a failed one may leave a reference to it
    requires: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return object_id("delete", self.kind, self.namespace, self.name)

    def describe(self) -> str:
        noun = "secret" if self.kind == ObjectKind.SECRET else "service account"
        return f"delete {noun} {self.namespace}/{self.name} on {self.cluster.name}"


@dataclass(frozen=True)
class AnnotateObject:
    """Mark a Service Connector object we found orphaned (first sight), so deletion can wait a grace period."""

    cluster: ResourceRef
    kind: ObjectKind
    namespace: str
    name: str
    annotations: tuple[tuple[str, str], ...]
    requires: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return object_id("annotate", self.kind, self.namespace, self.name)

    def describe(self) -> str:
        return f"annotate {self.kind.lower()} {self.namespace}/{self.name} on {self.cluster.name}: " + ", ".join(
            f"{k}={v}" for k, v in self.annotations
        )


@dataclass(frozen=True)
class Defer:
    cluster: ResourceRef
    reason: str
    retry_after_seconds: int = 60
    linker: str | None = None  # waiting for this linker's running operation; None: for the whole cluster
    workload: WorkloadRef | None = None  # waiting for this workload's rollout onto our secret to finish
    requires: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return f"defer/{self.linker or self.workload or ''}"

    def describe(self) -> str:
        return f"defer {self.cluster.name}: {self.reason} (retry in {self.retry_after_seconds}s)"


def put_linker_id(linker_name: str) -> str:
    return f"put-linker/{linker_name}"


def object_id(verb: str, kind: ObjectKind, namespace: str, name: str) -> str:
    return f"{verb}/{kind}/{namespace}/{name}"


Action = RegisterProvider | PutLinker | DeleteLinker | RewireWorkload | DeleteObject | AnnotateObject | Defer


def is_removal(action: Action) -> bool:
    """Deletes or un-wires something: what the removal circuit breaker counts."""
    return isinstance(action, DeleteLinker | DeleteObject) or (isinstance(action, RewireWorkload) and action.removes)


def is_destructive(action: Action) -> bool:
    """Removes, un-wires, deletes or overwrites: never done on a partial view of the estate."""
    return is_removal(action) or (isinstance(action, PutLinker) and action.replaces)


@dataclass(frozen=True)
class Plan:
    cluster: ResourceRef
    actions: tuple[Action, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def writes(self) -> tuple[Action, ...]:
        """Every write `apply` would make, those that wait for a linker of this plan included."""
        return tuple(a for a in self.actions if not isinstance(a, Defer))

    @property
    def immediate(self) -> tuple[Action, ...]:
        """What one pass applies: all but the patches that wait for a linker still to be put."""
        return tuple(a for a in self.actions if not (isinstance(a, RewireWorkload) and a.after_linkers))

    @property
    def deferred(self) -> tuple[Defer, ...]:
        return tuple(a for a in self.actions if isinstance(a, Defer))

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def lines(self) -> list[str]:
        return [a.describe() for a in self.actions]

    def to_dict(self) -> dict:
        return {
            "cluster": self.cluster.id,
            "actions": [_action_dict(a) for a in self.actions],
            "findings": [f.to_dict() for f in self.findings],
        }


def _action_dict(action: Action) -> dict:
    entry = {"type": type(action).__name__, "description": action.describe()}
    if isinstance(action, RewireWorkload) and action.after_linkers:
        entry["dependsOn"] = list(action.after_linkers)
    if action.requires:
        entry["requires"] = list(action.requires)
    return entry


def moved(saved: dict[str, tuple[str, ...]], fresh: dict[str, tuple[str, ...]]) -> list[str]:
    """What differs between a saved plan and a fresh one, per cluster id (lower-case keys): empty when the estate
    still matches. Lines read `<cluster>: + <action now planned>` / `- <action no longer planned>`."""
    lines = []
    for cluster in sorted(saved.keys() | fresh.keys()):
        name = cluster.rsplit("/", 1)[-1]
        if cluster not in fresh:
            lines.append(f"{name}: no longer in scope")
        elif cluster not in saved:
            lines.append(f"{name}: new in scope")
        lines += [f"{name}: {change}" for change in changed_actions(saved.get(cluster, ()), fresh.get(cluster, ()))]
    return lines


def changed_actions(before: tuple[str, ...], now: tuple[str, ...]) -> list[str]:
    """One cluster's actions: `- ` no longer planned, `+ ` newly planned; empty when they are the same."""
    changes = [f"- {a}" for a in before if a not in now] + [f"+ {a}" for a in now if a not in before]
    if not changes and before != now:
        changes.append("the same actions in another order")
    return changes
