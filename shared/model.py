"""The domain: what the tags ask for (Intent), what exists (ClusterState), and what to do (Plan)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

# no empty segment, no control character, no `.`/`..` (an HTTP client resolves those: the id would name another path)
_SEGMENT = r"(?!\.\.?(?:/|\Z))[^/\x00-\x1f]+"
_ID = re.compile(  # applied with fullmatch; after the provider namespace come type/name pairs
    rf"/subscriptions/(?P<sub>{_SEGMENT})/resourceGroups/(?P<rg>{_SEGMENT})/providers/(?P<ns>{_SEGMENT})"
    rf"/(?P<rest>{_SEGMENT}/{_SEGMENT}(?:/{_SEGMENT}/{_SEGMENT})*)",
    re.IGNORECASE,
)
OWNED_PREFIX = "scap_"  # linkers whose names start with this are ours; nothing else is touched
LINKER_SETTLING_STATES = frozenset({"Accepted", "InProgress", "Creating", "Updating", "Deleting"})


@dataclass(frozen=True, eq=False)
class ResourceRef:
    """An ARM resource id. Equality and hashing ignore case, as ARM does; `id` keeps the original spelling."""

    id: str

    @classmethod
    def parse(cls, resource_id: str) -> ResourceRef:
        if not isinstance(resource_id, str) or _ID.fullmatch(resource_id.rstrip("/")) is None:
            raise ValueError(f"not an ARM resource id: {str(resource_id)[:200]!r}")
        return cls(resource_id.rstrip("/"))

    def _parts(self) -> re.Match[str]:
        match = _ID.fullmatch(self.id)
        assert match is not None
        return match

    @property
    def subscription_id(self) -> str:
        return self._parts().group("sub")

    @property
    def resource_group(self) -> str:
        return self._parts().group("rg")

    @property
    def provider(self) -> str:
        return self._parts().group("ns")

    @property
    def type(self) -> str:
        """Lower-case full type, e.g. `microsoft.sql/servers/databases`."""
        segments = self._parts().group("rest").split("/")
        return "/".join([self.provider, *segments[0::2]]).lower()

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceRef) and self.id.lower() == other.id.lower()

    def __hash__(self) -> int:
        return hash(self.id.lower())

    def __lt__(self, other: ResourceRef) -> bool:
        return self.id.lower() < other.id.lower()

    def __str__(self) -> str:
        return self.id


class TargetKind(Enum):
    SQL_DATABASE = "sql-database"
    OPENAI = "openai"


class AuthKind(Enum):
    SECRET = "secret"  # noqa: S105 - an auth kind, not a password
    WORKLOAD_IDENTITY = "workload-identity"

    @property
    def linker_auth_type(self) -> str:
        return "secret" if self is AuthKind.SECRET else "userAssignedIdentity"


class Severity(Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


@dataclass(frozen=True, order=True)
class WorkloadRef:
    kind: str  # one of WORKLOAD_KINDS
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class WorkloadSpec:
    """A workload named by `sc-workloads`: `kind/name[:container]` in the target's namespace."""

    kind: str
    name: str
    container: str | None = None


@dataclass(frozen=True)
class ClusterInfo:
    ref: ResourceRef
    tags: dict[str, str]
    provisioning_state: str
    oidc_issuer_url: str | None = None
    workload_identity_enabled: bool = False


@dataclass(frozen=True)
class TargetInfo:
    ref: ResourceRef
    kind: TargetKind
    tags: dict[str, str]


@dataclass(frozen=True)
class IdentityInfo:
    ref: ResourceRef
    client_id: str
    principal_id: str


@dataclass(frozen=True)
class Intent:
    """One desired Service Connector connection, and the workloads it should be wired into."""

    cluster: ResourceRef
    target: ResourceRef
    target_kind: TargetKind
    namespace: str
    auth: AuthKind
    client_type: str
    workloads: tuple[WorkloadSpec, ...]
    linker_name: str
    secret_name: str
    identity: IdentityInfo | None = None
    service_account: str | None = None
    sql_user: str | None = None
    sql_password_url: str | None = None  # a Key Vault secret URL, never a password


@dataclass(frozen=True)
class Connection:
    """A linker as ARM returns it (never with a secret value)."""

    name: str
    target_id: str
    auth_type: str
    namespace: str
    client_type: str
    provisioning_state: str
    client_id: str | None = None
    secret_user: str | None = None

    @property
    def owned(self) -> bool:
        return self.name.startswith(OWNED_PREFIX)

    @property
    def settling(self) -> bool:
        """An operation on the linker is still running: wait for it rather than PUT over it."""
        return self.provisioning_state in LINKER_SETTLING_STATES


@dataclass(frozen=True)
class Wiring:
    """What one connection adds to one workload; recorded on the workload so removal takes back exactly this."""

    secret: str
    containers: tuple[str, ...]
    service_account: str | None = None
    previous_service_account: str | None = None
    label: bool = False

    def to_dict(self) -> dict:
        return {
            "secret": self.secret,
            "containers": list(self.containers),
            "serviceAccount": self.service_account,
            "previousServiceAccount": self.previous_service_account,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Wiring:
        return cls(
            secret=str(data["secret"]),
            containers=tuple(str(c) for c in data.get("containers") or ()),
            service_account=data.get("serviceAccount"),
            previous_service_account=data.get("previousServiceAccount"),
            label=bool(data.get("label")),
        )


@dataclass(frozen=True)
class WorkloadState:
    """A workload as read from the cluster: the manifest, kept whole so a rewire is computed exactly."""

    ref: WorkloadRef
    manifest: dict

    @property
    def resource_version(self) -> str:
        return str(self.manifest.get("metadata", {}).get("resourceVersion", ""))


@dataclass(frozen=True)
class ClusterState:
    info: ClusterInfo
    connections: tuple[Connection, ...]
    workloads: dict[WorkloadRef, WorkloadState]
    secrets: dict[str, frozenset[str]]  # namespace -> secret names (metadata only)
    service_accounts: dict[str, frozenset[str]]  # namespace -> service account names
    providers: dict[str, str]  # lower-case namespace -> registrationState
    # (kind, namespace, name) -> metadata of every Secret and ServiceAccount (metadata-only lists)
    metadata: dict[tuple[str, str, str], dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    resource_id: str
    message: str
    fix: str
    tag: str | None = None

    def to_dict(self) -> dict:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "resource": self.resource_id,
            "tag": self.tag,
            "message": self.message,
            "fix": self.fix,
        }


# -- actions -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RegisterProvider:
    subscription_id: str
    namespace: str

    def describe(self) -> str:
        return f"register resource provider {self.namespace} in subscription {self.subscription_id}"


@dataclass(frozen=True)
class PutLinker:
    intent: Intent
    reason: str

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

    def describe(self) -> str:
        return f"delete linker {self.name} on {self.cluster.name}"


@dataclass(frozen=True)
class RewireWorkload:
    """Make our wirings on a workload exactly `wirings` (added, changed and removed in one update)."""

    cluster: ResourceRef
    workload: WorkloadRef
    wirings: tuple[tuple[str, Wiring], ...]  # (linker name, wiring), sorted
    # The manifest the plan was made from: the first attempt patches from it (guarded by its resourceVersion)
    # instead of reading the workload again.
    basis: dict | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        linkers = ", ".join(name for name, _ in self.wirings) or "none"
        return f"rewire {self.workload} on {self.cluster.name}: our connections = {linkers}"


@dataclass(frozen=True)
class DeleteObject:
    """Delete a Service Connector secret or service account that nothing references any more."""

    cluster: ResourceRef
    kind: str  # Secret | ServiceAccount
    namespace: str
    name: str

    def describe(self) -> str:
        noun = "secret" if self.kind == "Secret" else "service account"
        return f"delete {noun} {self.namespace}/{self.name} on {self.cluster.name}"


@dataclass(frozen=True)
class AnnotateObject:
    """Mark a Service Connector object we found orphaned (first sight), so deletion can wait a grace period."""

    cluster: ResourceRef
    kind: str  # Secret | ServiceAccount
    namespace: str
    name: str
    annotations: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        return f"annotate {self.kind.lower()} {self.namespace}/{self.name} on {self.cluster.name}: " + ", ".join(
            f"{k}={v}" for k, v in self.annotations
        )


@dataclass(frozen=True)
class Defer:
    cluster: ResourceRef
    reason: str
    retry_after_seconds: int = 60

    def describe(self) -> str:
        return f"defer {self.cluster.name}: {self.reason} (retry in {self.retry_after_seconds}s)"


Action = RegisterProvider | PutLinker | DeleteLinker | RewireWorkload | DeleteObject | AnnotateObject | Defer


@dataclass(frozen=True)
class Plan:
    cluster: ResourceRef
    actions: tuple[Action, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def writes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if not isinstance(a, Defer))

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
            "actions": [{"type": type(a).__name__, "description": a.describe()} for a in self.actions],
            "findings": [f.to_dict() for f in self.findings],
        }
