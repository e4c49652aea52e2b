"""Every code a run can report, with its one severity and a one-line meaning: findings (what an operator should
know or do) and verdict reasons (why a connection is not Compliant). A code never changes severity by place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum, auto


class Severity(Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Code(StrEnum):
    """Compares equal to its name (`Code.TAG_INVALID == "TAG_INVALID"`), so reports and logs carry plain strings."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list) -> str:
        return name  # the code is its own name (StrEnum's default would lower-case it)

    # -- tags and consent ------------------------------------------------------------------------------
    TAG_INVALID = auto()
    PAUSED = auto()
    IDENTITY_MISSING = auto()
    CONSENT_MISSING = auto()
    ENV_KEY_CONFLICT = auto()
    SQL_WI_DB_USER_REQUIRED = auto()
    SECRET_PINNED = auto()
    # -- workloads ---------------------------------------------------------------------------------------
    WORKLOAD_NOT_FOUND = auto()
    CONTAINER_NOT_FOUND = auto()
    WI_IDENTITY_CONFLICT = auto()
    SA_CONFLICT = auto()
    SECRET_IN_USE = auto()
    LINKER_NAME_TAKEN = auto()
    GITOPS_MANAGED = auto()
    WIRING_REVERTED = auto()
    # -- the cluster and the run -------------------------------------------------------------------------
    CLUSTER_NOT_READY = auto()
    CLUSTER_GONE = auto()
    READ_FAILED = auto()
    RECONCILE_FAILED = auto()
    REMOVALS_HELD = auto()
    ROLLOUTS_HELD = auto()
    SWEEP_FAILED = auto()
    # -- writes that failed ------------------------------------------------------------------------------
    PERMISSION_MISSING = auto()
    PROVIDER_NOT_REGISTERED = auto()
    KEYVAULT_SECRET_UNREADABLE = auto()
    KUBE_FORBIDDEN = auto()
    KUBE_FAILED = auto()
    ARM_THROTTLED = auto()
    ARM_TRANSIENT = auto()
    ARM_CREDENTIAL = auto()
    ARM_NOT_FOUND = auto()
    ARM_INVALID = auto()
    # -- orphans -----------------------------------------------------------------------------------------
    ORPHAN_IN_USE = auto()
    DELETION_CAP_REACHED = auto()
    # -- verdict reasons -------------------------------------------------------------------------------
    LINKER_MISSING = auto()
    LINKER_DRIFTED = auto()
    LINKER_FAILED = auto()
    LINKER_PROVISIONING = auto()
    SECRET_MISSING = auto()
    SECRET_KEYS_MISSING = auto()
    SERVICE_ACCOUNT_MISSING = auto()
    SERVICE_ACCOUNT_WRONG_CLIENT = auto()
    FEDERATED_CREDENTIAL_MISSING = auto()
    CLUSTER_WI_DISABLED = auto()
    WORKLOAD_NOT_WIRED = auto()
    EXTENSION_NOT_READY = auto()
    VALIDATE_FAILED = auto()
    NOT_WANTED = auto()
    TARGET_DELETED = auto()
    SECRET_STALE = auto()
    SECRET_NEAR_EXPIRY = auto()
    SECRET_EXPIRED = auto()
    ROLLOUT_PENDING = auto()
    ROLLOUT_STUCK = auto()

    @property
    def severity(self) -> Severity:
        return CATALOGUE[self][0]

    @property
    def doc(self) -> str:
        return CATALOGUE[self][1]


_I, _W, _E = Severity.INFO, Severity.WARNING, Severity.ERROR
CATALOGUE: dict[Code, tuple[Severity, str]] = {
    Code.TAG_INVALID: (_E, "an sc-* tag is malformed; the resource is held: its wiring stays exactly as it is"),
    Code.PAUSED: (_I, "sc-pause=true: the resource is left alone"),
    Code.IDENTITY_MISSING: (_E, "workload identity needs the cluster's sc-identity, and that identity was not found"),
    Code.CONSENT_MISSING: (_E, "an owner has not consented to this edge (cluster, namespace, identity or secret)"),
    Code.ENV_KEY_CONFLICT: (_E, "the connection's keys would shadow keys the workload already gets"),
    Code.SQL_WI_DB_USER_REQUIRED: (_I, "a database admin must create the contained user of the identity"),
    Code.SECRET_PINNED: (_I, "the password URL names one version: pinned, never rotated (the vault has a newer one)"),
    Code.WORKLOAD_NOT_FOUND: (_E, "a workload named in sc-workloads does not exist"),
    Code.CONTAINER_NOT_FOUND: (_W, "the :container named in sc-workloads is not in the workload"),
    Code.WI_IDENTITY_CONFLICT: (_W, "two workload-identity connections with different identities on one workload"),
    Code.SA_CONFLICT: (_W, "the workload runs as a service account sc-autopilot does not own: not replaced"),
    Code.SECRET_IN_USE: (_W, "a removed connection's secret is still referenced: kept until it is not"),
    Code.LINKER_NAME_TAKEN: (_E, "a linker not ours (another target or namespace) has our name: left alone"),
    Code.GITOPS_MANAGED: (_W, "a GitOps tool applies the workload: not patched; commit the wiring shown instead"),
    Code.WIRING_REVERTED: (_W, "someone removed the wiring we repaired, again: no longer re-patched; commit it"),
    Code.CLUSTER_NOT_READY: (_W, "the cluster is Creating/Updating: its work is deferred and retried"),
    Code.CLUSTER_GONE: (_I, "the cluster no longer exists"),
    Code.READ_FAILED: (_E, "a read failed: nothing was removed, un-wired or overwritten on that partial view"),
    Code.RECONCILE_FAILED: (_E, "reconciling the cluster raised an unexpected error; the other clusters went on"),
    Code.ROLLOUTS_HELD: (
        _W,
        "more rollouts than SC_MAX_ROLLOUTS_PER_RUN: the rest are requeued, rolled by a later run",
    ),
    Code.REMOVALS_HELD: (
        _W,
        "the plan's removals do not fit SC_MAX_REMOVALS_PER_HOUR (app-wide, sliding hour): held, "
        "named, released by `apply --max-removals N`",
    ),
    Code.SWEEP_FAILED: (_E, "sweeping the cluster failed repeatedly (poison message)"),
    Code.PERMISSION_MISSING: (_E, "ARM answered 403: the app's identity lacks a right"),
    Code.PROVIDER_NOT_REGISTERED: (_E, "a resource provider is not registered and could not be registered"),
    Code.KEYVAULT_SECRET_UNREADABLE: (_E, "sc-password names a Key Vault secret the app cannot read"),
    Code.KUBE_FORBIDDEN: (_E, "the Kubernetes API refused a write (403): names the object, the verb and the right"),
    Code.KUBE_FAILED: (_E, "a Kubernetes write failed (5xx, unreachable, throttled): names the object and the verb"),
    Code.ARM_THROTTLED: (_E, "ARM throttled a write beyond every retry"),
    Code.ARM_TRANSIENT: (_E, "ARM failed (5xx, timeout, reset) beyond every retry"),
    Code.ARM_CREDENTIAL: (_E, "no token for ARM could be had, or ARM refused it (401): not an outage"),
    Code.ARM_NOT_FOUND: (_E, "ARM answered 404 for a write"),
    Code.ARM_INVALID: (_E, "ARM rejected the request as invalid (400)"),
    Code.ORPHAN_IN_USE: (_W, "an orphaned Service Connector object is still referenced: never deleted while so"),
    Code.DELETION_CAP_REACHED: (_W, "an orphan is due for deletion but the per-run cap is reached"),
    Code.LINKER_MISSING: (_W, "the connection does not exist: created by the reconcile"),
    Code.LINKER_DRIFTED: (_W, "the connection differs from what the tags ask: put again"),
    Code.LINKER_FAILED: (_W, "the connection's provisioning failed: put again"),
    Code.LINKER_PROVISIONING: (_I, "Service Connector is still provisioning the connection"),
    Code.SECRET_MISSING: (_W, "the connection's Kubernetes secret is missing: put again"),
    Code.SECRET_KEYS_MISSING: (_W, "the secret lacks keys listConfigurations names: put again"),
    Code.SERVICE_ACCOUNT_MISSING: (_W, "the workload-identity service account is missing: repaired"),
    Code.SERVICE_ACCOUNT_WRONG_CLIENT: (_W, "the service account's client-id annotation is wrong: repaired"),
    Code.FEDERATED_CREDENTIAL_MISSING: (_W, "the identity trusts no token of this cluster's service account"),
    Code.CLUSTER_WI_DISABLED: (_W, "the cluster's OIDC issuer or workload identity is off"),
    Code.WORKLOAD_NOT_WIRED: (_W, "a named workload lacks its envFrom, service account or pod label: rewired"),
    Code.EXTENSION_NOT_READY: (_E, "the sc-extension cluster extension is not Succeeded"),
    Code.VALIDATE_FAILED: (_E, "Service Connector's validation reports the connection unavailable"),
    Code.NOT_WANTED: (_I, "our connection is no longer asked for by tags: its wiring is removed"),
    Code.TARGET_DELETED: (_I, "our connection's target no longer exists: its wiring is removed"),
    Code.SECRET_STALE: (_W, "the connection's secret holds an older Key Vault version than the vault's current one"),
    Code.SECRET_NEAR_EXPIRY: (_W, "the Key Vault version in use expires within SC_SECRET_EXPIRY_WARNING_DAYS"),
    Code.SECRET_EXPIRED: (_E, "the Key Vault version in use is past its expiry date"),
    Code.ROLLOUT_PENDING: (_I, "a consumer is still rolling out onto the connection's current secret"),
    Code.ROLLOUT_STUCK: (_E, "a consumer's rollout onto the current secret passed its progress deadline"),
}


@dataclass(frozen=True)
class Finding:
    code: Code
    resource_id: str
    message: str
    fix: str
    tag: str | None = None
    snippet: str | None = None  # what to commit (YAML), shown whole: GITOPS_MANAGED, WIRING_REVERTED

    @property
    def severity(self) -> Severity:
        return self.code.severity

    def to_dict(self) -> dict:
        entry = {
            "severity": self.severity.value,
            "code": str(self.code),
            "resource": self.resource_id,
            "tag": self.tag,
            "message": self.message,
            "fix": self.fix,
        }
        if self.snippet:
            entry["snippet"] = self.snippet
        return entry


@dataclass(frozen=True)
class ReadFailure:
    """A read that did not complete (after every retry): what was read, of which resource, and how it failed.
    Never an empty result: whatever depended on it is held."""

    read: str  # e.g. "tag listing", "linkers", "Deployment list", "identity"
    resource_id: str  # the resource or scope read
    status: int | None  # the HTTP status; None for a dropped connection or a timeout
    error: str  # the service's error code, or the transport error's type
    message: str = ""

    @property
    def fix(self) -> str:
        if self.error == "CredentialUnavailable":  # no token: a credential problem, not an outage
            return "no usable Azure credential: run `az login`, or set AZURE_CLIENT_ID for a managed identity"
        if self.status in (401, 403):
            return f"grant the app's identity read access for the {self.read} on {self.resource_id}"
        if self.status == 429:
            return "the API throttled the app beyond its retries: retried on the next run (lower SC_CONCURRENCY)"
        if self.status is None or self.status >= 500 or self.status == 408:
            return "the API was unavailable or timed out: retried on the next run; check the service's health"
        return f"check the {self.read} of {self.resource_id} ({self.error}); retried on the next run"

    def finding(self) -> Finding:
        status = "no answer" if self.status is None else f"HTTP {self.status}"
        detail = f"{self.read} failed ({status} {self.error}{': ' + self.message[:200] if self.message else ''})"
        return Finding(Code.READ_FAILED, self.resource_id, detail + "; nothing depending on it was removed", self.fix)
