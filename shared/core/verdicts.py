"""Per-connection verdicts, far deeper than Service Connector's own validate (which, for AKS, always says
success). Pure: the sweep gathers the evidence, this judges it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from shared.core import consent, naming, rotation
from shared.core.codes import Code
from shared.core.gitops import GitOpsWiring, gitops_owner
from shared.core.manifests import WI_LABEL, pod_spec, pod_template, service_account_of
from shared.core.model import AuthKind, ClusterState, Connection, Intent, WorkloadRef
from shared.core.plan import Plan, PutLinker, RewireWorkload
from shared.core.planner import Desired
from shared.core.reverts import read_history


class Status(Enum):
    COMPLIANT = "Compliant"
    DRIFTED = "Drifted"
    PENDING = "Pending"
    ORPHANED = "Orphaned"
    ERROR = "Error"


WORST_FIRST = (Status.ERROR, Status.DRIFTED, Status.PENDING, Status.ORPHANED, Status.COMPLIANT)

# Each reason code has exactly one verdict, wherever it is found; a connection's verdict is its worst reason's.
VERDICT_OF: dict[Code, Status] = {
    Code.CLUSTER_NOT_READY: Status.PENDING,
    Code.LINKER_PROVISIONING: Status.PENDING,
    Code.LINKER_MISSING: Status.DRIFTED,
    Code.LINKER_DRIFTED: Status.DRIFTED,
    Code.LINKER_FAILED: Status.DRIFTED,
    Code.SECRET_MISSING: Status.DRIFTED,
    Code.SECRET_KEYS_MISSING: Status.DRIFTED,
    Code.SERVICE_ACCOUNT_MISSING: Status.DRIFTED,
    Code.SERVICE_ACCOUNT_WRONG_CLIENT: Status.DRIFTED,
    Code.FEDERATED_CREDENTIAL_MISSING: Status.DRIFTED,
    Code.CLUSTER_WI_DISABLED: Status.DRIFTED,
    Code.WORKLOAD_NOT_WIRED: Status.DRIFTED,
    Code.GITOPS_MANAGED: Status.DRIFTED,
    Code.WIRING_REVERTED: Status.DRIFTED,
    Code.NOT_WANTED: Status.ORPHANED,
    Code.TARGET_DELETED: Status.ORPHANED,
    Code.EXTENSION_NOT_READY: Status.ERROR,
    Code.VALIDATE_FAILED: Status.ERROR,
    Code.WORKLOAD_NOT_FOUND: Status.ERROR,
    Code.READ_FAILED: Status.ERROR,
    Code.SECRET_STALE: Status.DRIFTED,
    Code.SECRET_NEAR_EXPIRY: Status.COMPLIANT,  # still working: a warning on a Compliant connection
    Code.SECRET_EXPIRED: Status.ERROR,
    Code.KEYVAULT_SECRET_UNREADABLE: Status.ERROR,
    Code.ROLLOUT_PENDING: Status.PENDING,
    Code.ROLLOUT_STUCK: Status.ERROR,
}


def verdict_of(reasons: tuple[Reason, ...] | list[Reason]) -> Status:
    """The worst verdict among the reasons' (Compliant when there are none)."""
    found = {VERDICT_OF[r.code] for r in reasons}
    return next(s for s in WORST_FIRST if s in found or s is Status.COMPLIANT)


@dataclass(frozen=True)
class Reason:
    code: Code
    message: str
    fix: str


@dataclass(frozen=True)
class Evidence:
    """What the sweep read beyond the planner's inputs, per linker name."""

    extension_state: str | None = None
    secret_keys: dict[str, frozenset[str] | None] = field(default_factory=dict)
    expected_keys: dict[str, frozenset[str]] = field(default_factory=dict)  # listConfigurations
    federated_subjects: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)  # by client id
    validation: dict[str, tuple[bool, tuple[str, ...]]] = field(default_factory=dict)  # available, failures
    missing_targets: frozenset[str] = frozenset()  # lower-case ids
    expiry_warning: timedelta = timedelta(days=rotation.DEFAULT_EXPIRY_WARNING_DAYS)


@dataclass(frozen=True)
class Verdict:
    cluster: str
    connection: str
    target: str
    status: Status
    reasons: tuple[Reason, ...] = ()
    repaired: bool = False
    consumers: tuple[Consumer, ...] = ()  # the workloads reading its secret: their rollout onto it

    def to_dict(self) -> dict:
        return {
            "cluster": self.cluster,
            "connection": self.connection,
            "target": self.target,
            "verdict": self.status.value,
            "repaired": self.repaired,
            "reasons": [{"code": r.code, "message": r.message, "fix": r.fix} for r in self.reasons],
            "consumers": [c.to_dict() for c in self.consumers],
        }


@dataclass(frozen=True)
class Consumer:
    """A workload reading the connection's secret: when we last rolled it onto the secret's content, and whether
    that rollout finished."""

    workload: str
    rollout: str  # rotation.Rollout value
    rolled_at: str | None

    def to_dict(self) -> dict:
        return {"workload": self.workload, "rollout": self.rollout, "rolledAt": self.rolled_at}


def judge(
    desired: Desired,
    actual: ClusterState,
    plan: Plan,
    evidence: Evidence,
    gitops_wiring: GitOpsWiring = GitOpsWiring.SUGGEST,
) -> list[Verdict]:
    connections = {c.name: c for c in actual.connections}
    verdicts = [
        _judge_intent(i, connections.get(i.linker_name), actual, plan, evidence, gitops_wiring) for i in desired.intents
    ]
    intended = {i.linker_name for i in desired.intents}
    for connection in actual.connections:
        if naming.is_ours(connection) and connection.name not in intended:
            gone = connection.target_id.lower() in evidence.missing_targets
            reason = (
                Reason(Code.TARGET_DELETED, "the target resource no longer exists", "nothing: the wiring is removed")
                if gone
                else Reason(Code.NOT_WANTED, "no longer asked for by tags (group, pause or tag removed)",
                            "nothing: the wiring is removed unless the target is paused")
            )  # fmt: skip
            verdicts.append(
                Verdict(actual.info.ref.id, connection.name, connection.target_id, verdict_of([reason]), (reason,))
            )
    return verdicts


def _judge_intent(
    intent: Intent, connection: Connection | None, actual: ClusterState, plan: Plan, evidence: Evidence,
    gitops_wiring: GitOpsWiring,
) -> Verdict:  # fmt: skip
    waiting = next((d for d in plan.deferred if d.linker is None and d.workload is None), None)  # the cluster is busy
    if waiting is not None:
        return _verdict(intent, [Reason(Code.CLUSTER_NOT_READY, waiting.reason,
                                        "wait: retried when the cluster settles")])  # fmt: skip
    absent = [r for r in _workload_reasons(intent, actual, gitops_wiring) if r.code is Code.WORKLOAD_NOT_FOUND]
    if connection is None:  # a workload that does not exist is an Error from the first sweep on
        return _verdict(intent, [Reason(Code.LINKER_MISSING, "the connection does not exist",
                                        "sc-autopilot creates it"), *absent])  # fmt: skip
    if connection.settling:
        return _verdict(intent, [Reason(Code.LINKER_PROVISIONING, connection.provisioning_state,
                                        "wait for Service Connector"), *absent])  # fmt: skip
    reasons: list[Reason] = []
    put = next(
        (a for a in plan.actions if isinstance(a, PutLinker) and a.intent.linker_name == intent.linker_name), None
    )
    if put is not None and not put.stale:
        code = Code.LINKER_FAILED if connection.provisioning_state == "Failed" else Code.LINKER_DRIFTED
        reasons.append(Reason(code, put.reason, "sc-autopilot puts the connection again"))
    reasons += _secret_reasons(intent, actual, evidence)
    if evidence.extension_state not in (None, "Succeeded"):
        reasons.append(Reason(Code.EXTENSION_NOT_READY, f"sc-extension is {evidence.extension_state}",
                              "check the extension in the portal; see docs/operations.md (Helm errors)"))  # fmt: skip
    keys = evidence.secret_keys.get(intent.linker_name)
    expected = evidence.expected_keys.get(intent.linker_name, frozenset())
    if keys is None:
        reasons.append(Reason(Code.SECRET_MISSING, f"secret {intent.namespace}/{intent.secret_name} is missing",
                              "sc-autopilot puts the connection again, which rewrites it"))  # fmt: skip
    elif expected - keys:
        reasons.append(Reason(Code.SECRET_KEYS_MISSING, f"secret lacks {', '.join(sorted(expected - keys))}",
                              "sc-autopilot puts the connection again, which rewrites it"))  # fmt: skip
    if intent.auth is AuthKind.WORKLOAD_IDENTITY:
        reasons += _workload_identity_reasons(intent, actual, evidence)
    reasons += _workload_reasons(intent, actual, gitops_wiring)
    available, failures = evidence.validation.get(intent.linker_name, (True, ()))
    if not available:
        reasons.append(Reason(Code.VALIDATE_FAILED, "; ".join(failures) or "Service Connector validation failed",
                              "see the validation details in the portal"))  # fmt: skip
    consumers, rollout_reasons = _consumers(intent, actual, plan)
    verdict = _verdict(intent, reasons + rollout_reasons)
    return Verdict(verdict.cluster, verdict.connection, verdict.target, verdict.status, verdict.reasons,
                   consumers=consumers)  # fmt: skip


def _secret_reasons(intent: Intent, actual: ClusterState, evidence: Evidence) -> list[Reason]:
    """A connection whose secret is behind its Key Vault secret is never Compliant: SECRET_STALE (repaired by a
    re-put when the new version's sc-targets admits the target; else its fix is the consent command), and the
    version in use near or past its expiry."""
    check = rotation.check_secret(intent, actual)
    if check is None:
        return []
    if not check.readable:
        return [Reason(Code.KEYVAULT_SECRET_UNREADABLE, f"the app cannot list the versions of {check.url}",
                       "grant the app 'Key Vault Secrets User' on the vault (getSecret and readMetadata)")]  # fmt: skip
    reasons = []
    if check.behind:
        wanted = check.wanted
        refusal = consent.vault_secret_admits(
            check.vault_url, check.name, wanted.version, wanted.tags, intent.tagged, intent.password_tag
        )
        fix = refusal.fix if refusal else "sc-autopilot puts the connection again with it and rolls out its consumers"
        reasons.append(Reason(Code.SECRET_STALE, rotation.stale_message(check), fix))
    now = actual.observed_at or datetime.now(UTC)
    for finding in rotation.secret_findings(check, intent, now, evidence.expiry_warning):
        if finding.code in VERDICT_OF:
            reasons.append(Reason(finding.code, finding.message, finding.fix))
    return reasons


def _consumers(intent: Intent, actual: ClusterState, plan: Plan) -> tuple[tuple[Consumer, ...], list[Reason]]:
    """Each named workload that rolls (Deployment, StatefulSet, DaemonSet) and carries our digest: its rollout,
    or WORKLOAD_NOT_WIRED while its pods still run with content the secret no longer holds."""
    consumers, reasons = [], []
    now = actual.observed_at or datetime.now(UTC)
    rolling = {a.workload for a in plan.actions if isinstance(a, RewireWorkload) and a.rolls}
    for spec in intent.workloads:
        state = actual.workloads.get(WorkloadRef(spec.kind, intent.namespace, spec.name))
        if state is None or spec.kind not in rotation.ROLLING_KINDS or rotation.digest_of(state.manifest) is None:
            continue
        if state.ref in rolling:
            reasons.append(Reason(Code.WORKLOAD_NOT_WIRED, f"{spec.kind}/{spec.name} has not rolled onto the "
                                  "secret's current content", "sc-autopilot rolls it out"))  # fmt: skip
            continue
        rollout = rotation.rollout_state(state.manifest, now)
        consumers.append(Consumer(str(state.ref), rollout.state.value, rollout.rolled_at))
        if rollout.state is rotation.Rollout.PENDING:
            reasons.append(Reason(Code.ROLLOUT_PENDING, rollout.message, "wait: sc-autopilot looks again"))
        elif rollout.state is rotation.Rollout.STUCK:
            reasons.append(Reason(Code.ROLLOUT_STUCK, rollout.message,
                                  f"kubectl -n {intent.namespace} rollout status {spec.kind.lower()}/{spec.name}: "
                                  "fix what keeps the new pods from becoming ready"))  # fmt: skip
    return tuple(dict.fromkeys(consumers)), reasons


def _workload_reasons(intent: Intent, actual: ClusterState, gitops_wiring: GitOpsWiring) -> list[Reason]:
    reasons = []
    for spec in intent.workloads:
        state = actual.workloads.get(WorkloadRef(spec.kind, intent.namespace, spec.name))
        if state is None:
            reasons.append(
                Reason(Code.WORKLOAD_NOT_FOUND, f"{spec.kind}/{spec.name} does not exist", "fix sc-workloads")
            )
            continue
        missing = _wiring_gaps(intent, spec.container, state.manifest)
        owner = gitops_owner(state.manifest) if gitops_wiring is GitOpsWiring.SUGGEST else None
        history = read_history(state.manifest)
        if missing and history.stopped:
            reasons.append(Reason(Code.WIRING_REVERTED, f"{spec.kind}/{spec.name}: {missing} (removed by "
                                  f"{history.last_by} {len(history.reverts)} times)",
                                  "commit the wiring the WIRING_REVERTED finding shows to its source"))  # fmt: skip
        elif missing and owner is not None:
            reasons.append(Reason(Code.GITOPS_MANAGED, f"{spec.kind}/{spec.name} ({owner.tool}): {missing}",
                                  "commit the wiring the GITOPS_MANAGED finding shows to its source"))  # fmt: skip
        elif missing:
            reasons.append(
                Reason(Code.WORKLOAD_NOT_WIRED, f"{spec.kind}/{spec.name}: {missing}", "sc-autopilot rewires it")
            )
    return reasons


def _workload_identity_reasons(intent: Intent, actual: ClusterState, evidence: Evidence) -> list[Reason]:
    reasons = []
    info = actual.info
    if not info.oidc_issuer_url or not info.workload_identity_enabled:
        reasons.append(Reason(Code.CLUSTER_WI_DISABLED, "the cluster's OIDC issuer or workload identity is off",
                              "sc-autopilot puts the connection again, which enables them"))  # fmt: skip
    account = actual.metadata.get(("ServiceAccount", intent.namespace, intent.service_account or "")) or {}
    client_id = (account.get("annotations") or {}).get("azure.workload.identity/client-id")
    if not account:
        reasons.append(
            Reason(Code.SERVICE_ACCOUNT_MISSING, f"{intent.service_account} is missing", "sc-autopilot repairs it")
        )
    elif intent.identity and (not client_id or client_id.lower() != intent.identity.client_id.lower()):
        reasons.append(Reason(Code.SERVICE_ACCOUNT_WRONG_CLIENT, f"client-id annotation is {client_id!r}",
                              "sc-autopilot puts the connection again"))  # fmt: skip
    subject = f"system:serviceaccount:{intent.namespace}:{intent.service_account}"
    if intent.identity and info.oidc_issuer_url:
        subjects = evidence.federated_subjects.get(intent.identity.client_id.lower(), frozenset())
        if (info.oidc_issuer_url, subject) not in subjects:
            reasons.append(Reason(Code.FEDERATED_CREDENTIAL_MISSING,
                                  f"{intent.identity.ref.name} trusts no token from {subject} on this cluster",
                                  "sc-autopilot puts the connection again, which creates it"))  # fmt: skip
    return reasons


def _wiring_gaps(intent: Intent, container: str | None, manifest: dict) -> str:
    gaps = []
    for c in pod_spec(manifest).get("containers") or []:
        if container and c.get("name") != container:
            continue
        names = [(e.get("secretRef") or {}).get("name") for e in c.get("envFrom") or []]
        if intent.secret_name not in names:
            gaps.append(f"container {c.get('name')} lacks envFrom {intent.secret_name}")
    if intent.service_account:
        if service_account_of(manifest) != intent.service_account:
            gaps.append(f"serviceAccountName is not {intent.service_account}")
        if ((pod_template(manifest).get("metadata") or {}).get("labels") or {}).get(WI_LABEL) != "true":
            gaps.append(f"pod template lacks {WI_LABEL}=true")
    return "; ".join(gaps)


def _verdict(intent: Intent, reasons: list[Reason]) -> Verdict:
    return Verdict(intent.cluster.id, intent.linker_name, intent.target.id, verdict_of(reasons), tuple(reasons))
