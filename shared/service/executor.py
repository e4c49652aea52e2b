"""Applies a Plan through the adapters, one action at a time, and says what happened to each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonpatch
from kubernetes.client.exceptions import ApiException

from shared.adapters import telemetry
from shared.adapters.azure.arm import Arm
from shared.adapters.azure.errors import AZURE_ERRORS, FailureKind, classify
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.errors import ReadError
from shared.adapters.kube.api import KubeApi
from shared.adapters.kube.client import KubeClients
from shared.adapters.kube.errors import KUBE_ERRORS, KubeFailureKind
from shared.adapters.kube.errors import classify as classify_kube
from shared.adapters.logs import get_logger, log_event
from shared.adapters.storage import LinkerIndex
from shared.core import consent, naming, rotation
from shared.core.codes import Code, Finding
from shared.core.manifests import rewire
from shared.core.model import AuthKind, Intent, ObjectKind
from shared.core.plan import (
    Action,
    AnnotateObject,
    Defer,
    DeleteLinker,
    DeleteObject,
    PutLinker,
    RegisterProvider,
    RewireWorkload,
)
from shared.core.policy import blocked_by
from shared.core.reverts import read_history, record, remover, reverted, reverted_finding, with_history
from shared.core.tags import SecretUrlError
from shared.service.results import Outcome, OutcomeStatus

log = get_logger("executor")
CONFLICT_ATTEMPTS = 4


class Executor:
    def __init__(
        self, arm: Arm, kube: KubeClients, keyvault: KeyVault, protected_namespaces: tuple[str, ...],
        revert_window: timedelta = timedelta(hours=24), clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        index: LinkerIndex | None = None,
    ):  # fmt: skip
        self.arm = arm
        self.kube = kube
        self.keyvault = keyvault
        self.protected = protected_namespaces
        self.revert_window = revert_window  # SC_REVERT_WINDOW_HOURS
        self.clock = clock
        self.index = index  # reverse routing: which clusters hold a linker of ours to which target

    def apply(self, actions: tuple[Action, ...], correlation_id: str | None = None) -> list[Outcome]:
        """Each action in turn, with one rule (shared.core.policy.blocked_by): an action whose prerequisite (its
        `requires`) did not apply is not attempted (BLOCKED), and the next run redoes it."""
        outcomes = []
        done: set[str] = set()  # the ids of the actions that applied or found nothing to do
        for action in actions:
            if missing := blocked_by(action.requires, done):
                outcome = Outcome(action, OutcomeStatus.BLOCKED, f"waits for: {'; '.join(missing)}; retried next run")
            else:
                outcome = self._apply_one(action)
            if outcome.status.done:
                done.add(action.id)
            _count(outcome)
            level = logging.WARNING if outcome.status is OutcomeStatus.FAILED else logging.INFO
            log_event(
                log,
                level,
                "action",
                action=action.describe(),
                outcome=outcome.status,
                detail=outcome.detail,
                correlation_id=correlation_id,
            )
            outcomes.append(outcome)
        return outcomes

    def _apply_one(self, action: Action) -> Outcome:
        try:
            return HANDLERS[type(action)](self, action)
        except ReadError as error:  # a read the write needed (a re-read, the cluster's credentials) failed
            failure = error.failures[0]
            return Outcome(action, OutcomeStatus.FAILED, f"{failure.read}: {failure.error}", failure.finding())
        except AZURE_ERRORS as error:
            return self._azure_failure(action, error)
        except KUBE_ERRORS as error:  # an ApiException, or the connection dropped or timed out (it may have acted)
            return self._kube_failure(action, error)

    def _defer(self, action: Defer) -> Outcome:
        return Outcome(action, OutcomeStatus.DEFERRED, action.reason)

    def _register(self, action: RegisterProvider) -> Outcome:
        """Applied once Registered; while Registering, deferred (the cluster is requeued), and the linker PUTs that
        require it wait: Azure would accept them and fail their operation ("Conflict", FACTS.md section 6)."""
        state = self.arm.register_provider(action.subscription_id, action.namespace)
        if state == "Registered":
            return Outcome(action, OutcomeStatus.APPLIED, state)
        return Outcome(action, OutcomeStatus.DEFERRED, f"{action.namespace} is {state}; requeued until Registered")

    def _delete_linker(self, action: DeleteLinker) -> Outcome:
        self.arm.delete_linker(action.cluster.id, action.name)
        if self.index is not None:
            self.index.released(action.cluster.id, action.name)
        return Outcome(action, OutcomeStatus.APPLIED)

    # -- Service Connector -----------------------------------------------------------------------------
    def _put_linker(self, action: PutLinker) -> Outcome:
        intent = action.intent
        password = None
        if intent.auth is AuthKind.SECRET and intent.password_url:
            try:
                # read now, used once, never kept: the version the plan chose (its consent is the one checked below)
                secret = self.keyvault.read_secret(intent.password_url, action.version)
            except SecretUrlError as error:
                tag = intent.password_tag
                finding = _finding(Code.TAG_INVALID, intent.tagged.id, f"{tag}: {error}",
                                   "point it at a Key Vault secret", tag)  # fmt: skip
                return Outcome(action, OutcomeStatus.FAILED, str(error), finding)
            except ReadError as error:  # the tag may name a vault or secret the app cannot read
                [failure] = error.failures
                if failure.status not in (403, 404):
                    raise  # throttled, transient, no answer: READ_FAILED, retried next run
                tag = intent.password_tag
                finding = _finding(
                    Code.KEYVAULT_SECRET_UNREADABLE,
                    intent.tagged.id,
                    f"{tag}: the app cannot read {intent.password_url} ({failure.error or failure.status})",
                    f"point {tag} at an existing secret and grant the app 'Key Vault Secrets User' on its vault",
                    tag,
                )
                return Outcome(action, OutcomeStatus.FAILED, failure.error or str(failure.status), finding)
            # The consent of exactly the version read, checked on the value about to be sent (whatever the URL's
            # spelling: host case, port, trailing slash or an older version all lead to that version's own tags).
            refusal = consent.vault_secret_admits(secret.vault_url, secret.name, secret.version, secret.tags,
                                                  intent.tagged, intent.password_tag)  # fmt: skip
            if refusal is not None:
                return Outcome(action, OutcomeStatus.FAILED, str(Code.CONSENT_MISSING), refusal)
            password = secret.value
        state = self.arm.put_linker(intent.cluster.id, intent.linker_name, _linker_body(intent, password))
        if self.index is not None:  # even a Failed linker is held (and later deleted) on the cluster
            self.index.held(intent.cluster.id, intent.target.id, intent.linker_name)
        if password is not None and state == "Succeeded":
            self._record_version(intent, f"{secret.vault_url}/secrets/{secret.name}/{secret.version}")
        return Outcome(action, OutcomeStatus.APPLIED, state)

    def _record_version(self, intent: Intent, version_id: str) -> None:
        """Annotate the connection's secret with the Key Vault version it now holds (its id, never the value), so
        the sweep can tell a secret behind its vault. A secret not written yet is recorded by the next put."""
        api = KubeApi(self.kube.for_cluster(intent.cluster))
        for attempt in range(CONFLICT_ATTEMPTS):  # another writer of the secret (Service Connector, a racer) won
            try:
                api.merge_patch("Secret", intent.namespace, intent.secret_name,
                                {"metadata": {"annotations": {rotation.VERSION_ANNOTATION: version_id}}})  # fmt: skip
                return
            except ApiException as error:
                kind = classify_kube(error).kind
                if kind is KubeFailureKind.NOT_FOUND:
                    return
                if kind is not KubeFailureKind.CONFLICT or attempt == CONFLICT_ATTEMPTS - 1:
                    raise

    # -- Kubernetes ------------------------------------------------------------------------------------
    def _rewire(self, action: RewireWorkload) -> Outcome:
        """Read-modify-write with a JSON patch guarded by `test` on resourceVersion; re-read on conflict. A patch
        that follows linkers of this plan is the next pass's, re-planned once those linkers' secrets exist."""
        if action.after_linkers:
            return Outcome(action, OutcomeStatus.SKIPPED, "wired by the next pass, once the linker's secret exists")
        if action.workload.namespace in self.protected:
            return Outcome(action, OutcomeStatus.SKIPPED, "protected namespace")
        api = KubeApi(self.kube.for_cluster(action.cluster))
        ref = action.workload
        basis = action.basis
        for _ in range(CONFLICT_ATTEMPTS):
            current, basis = basis or api.get(ref.kind, ref.namespace, ref.name), None  # planned basis first
            if current is None:
                return Outcome(action, OutcomeStatus.SKIPPED, "the workload is gone")
            wirings = dict(action.wirings)
            rewired = rotation.stamp_digest(current, rewire(current, wirings), action.digest)
            wanted = rotation.mark_rolled(current, rewired, self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"))
            # we added it, someone removed it: a revert, counted on the workload (a patch that also takes wiring
            # back is never held: what it removes may be what a deletion after it waits for)
            gone = {} if action.removes else reverted(current, wirings)
            history = read_history(current)
            if gone:
                history = record(history, self.clock(), remover(current, gone), self.revert_window, wirings)
                # the second revert within the window: record it and stop (an annotation, no pod template change)
                wanted = with_history(current if history.stopped else wanted, history)
            operations = jsonpatch.make_patch(current, wanted).patch
            if not operations:
                return Outcome(action, OutcomeStatus.SKIPPED, "already as wanted")
            guard = {"op": "test", "path": "/metadata/resourceVersion", "value": current["metadata"]["resourceVersion"]}
            try:
                api.json_patch(ref.kind, ref.namespace, ref.name, [guard, *operations])
                if gone and history.stopped:
                    finding = reverted_finding(action.cluster.id, ref, current, history, wirings)
                    return Outcome(action, OutcomeStatus.SKIPPED, f"wiring reverted by {history.last_by}", finding)
                return Outcome(action, OutcomeStatus.APPLIED)
            except ApiException as error:
                kind = classify_kube(error).kind
                if kind is KubeFailureKind.NOT_FOUND:
                    return Outcome(action, OutcomeStatus.SKIPPED, "the workload is gone")
                if kind is not KubeFailureKind.CONFLICT:
                    raise
        return Outcome(action, OutcomeStatus.FAILED, "the workload kept changing; retried next run")

    def _delete_object(self, action: DeleteObject) -> Outcome:
        kind = action.kind
        ours = (
            naming.is_service_connector_secret(action.name)
            if kind == ObjectKind.SECRET
            else action.name.startswith("sc-account-")
        )
        if action.namespace in self.protected or not ours:
            return Outcome(action, OutcomeStatus.SKIPPED, "not ours to delete")
        api = KubeApi(self.kube.for_cluster(action.cluster))
        current = api.get(kind, action.namespace, action.name)
        if current is None:
            return Outcome(action, OutcomeStatus.SKIPPED, "already gone")
        meta = current["metadata"]
        deleted = api.delete(
            kind, action.namespace, action.name, uid=meta["uid"], resource_version=meta["resourceVersion"]
        )
        return Outcome(action, OutcomeStatus.APPLIED if deleted else OutcomeStatus.SKIPPED)

    def _annotate(self, action: AnnotateObject) -> Outcome:
        if action.namespace in self.protected:
            return Outcome(action, OutcomeStatus.SKIPPED, "protected namespace")
        api = KubeApi(self.kube.for_cluster(action.cluster))
        api.merge_patch(
            action.kind, action.namespace, action.name, {"metadata": {"annotations": dict(action.annotations)}}
        )
        return Outcome(action, OutcomeStatus.APPLIED)

    # -- failures --------------------------------------------------------------------------------------
    def _azure_failure(self, action: Action, error: BaseException) -> Outcome:
        failure = classify(error)
        resource = _resource_of(action)
        if failure.kind is FailureKind.CONFLICT:
            return Outcome(action, OutcomeStatus.DEFERRED, "the cluster is busy (Conflict); retried later")
        if failure.kind is FailureKind.FORBIDDEN:
            action_name, scope = failure.missing_right or ("?", resource)
            finding = _finding(
                Code.PERMISSION_MISSING,
                resource,
                f"the app may not perform {action_name} on {scope}",
                f"grant the app's identity '{action_name}' on {scope} (infra/roles)",
            )
            return Outcome(action, OutcomeStatus.FAILED, failure.code, finding)
        if failure.kind is FailureKind.UNREGISTERED:
            finding = _finding(
                Code.PROVIDER_NOT_REGISTERED,
                resource,
                failure.message,
                "register the resource provider or allow the app to (Microsoft.*/register/action)",
            )
            return Outcome(action, OutcomeStatus.FAILED, failure.code, finding)
        if failure.kind is FailureKind.THROTTLED:
            telemetry.throttled.add(1)
        finding = _finding(
            ARM_WRITE_CODES[failure.kind],
            resource,
            f"{failure.code}: {failure.message[:300]}",
            "see docs/operations.md for this error",
        )
        return Outcome(action, OutcomeStatus.FAILED, failure.code, finding)

    def _kube_failure(self, action: Action, error: BaseException) -> Outcome:
        """A refused or failed Kubernetes write: a finding naming the object, the verb and what to do."""
        failure = classify_kube(error)
        verb, kind, namespace, name = _kube_write(action)
        target = f"{kind} {namespace}/{name}"
        if failure.kind is KubeFailureKind.FORBIDDEN:
            finding = _finding(
                Code.KUBE_FORBIDDEN,
                _resource_of(action),
                f"the Kubernetes API refused to {verb} {target} (403 Forbidden)",
                f"allow the app's identity to {verb} {kind.lower()}s in namespace {namespace}: Azure RBAC for "
                "Kubernetes: 'Azure Kubernetes Service RBAC Writer' on the cluster or that namespace; Kubernetes "
                "RBAC: the ClusterRole in docs/operations.md",
            )
            return Outcome(action, OutcomeStatus.FAILED, "Forbidden", finding)
        if failure.kind is KubeFailureKind.THROTTLED:
            telemetry.throttled.add(1)
        answer = f"answered {failure.status}" if failure.status else f"was unreachable ({failure.reason})"
        finding = _finding(
            Code.KUBE_FAILED,
            _resource_of(action),
            f"could not {verb} {target}: the Kubernetes API {answer}",
            "retried on the next run; if it persists, check the cluster's API server (and its admission webhooks)",
        )
        return Outcome(action, OutcomeStatus.FAILED, f"Kubernetes API {answer}", finding)


HANDLERS: dict[type, Callable[[Executor, Any], Outcome]] = {
    Defer: Executor._defer,
    RegisterProvider: Executor._register,
    PutLinker: Executor._put_linker,
    DeleteLinker: Executor._delete_linker,
    RewireWorkload: Executor._rewire,
    DeleteObject: Executor._delete_object,
    AnnotateObject: Executor._annotate,
}


def _linker_body(intent: Intent, password: str | None) -> dict:
    target: dict = {"type": "AzureResource", "id": intent.target.id}
    if intent.auth is AuthKind.WORKLOAD_IDENTITY:
        auth = {
            "authType": "userAssignedIdentity",
            "clientId": intent.identity.client_id,
            "subscriptionId": intent.identity.ref.subscription_id,
        }
    elif intent.auth is AuthKind.CSI:
        # the cluster's azure-keyvault-secrets-provider add-on identity: Service Connector takes no auth arguments
        auth = {"authType": "userAssignedIdentity"}
        target["resourceProperties"] = {"type": "KeyVault", "connectAsKubernetesCsiDriver": True}
    elif password is not None:
        auth = {
            "authType": "secret",
            "name": intent.user,
            "secretInfo": {"secretType": "rawValue", "value": password},
        }
    else:
        auth = {"authType": "secret"}  # the service fetches the target's keys itself
    return {
        "properties": {
            "targetService": target,
            "authInfo": auth,
            "clientType": intent.client_type,
            "scope": intent.namespace,
        }
    }


def _count(outcome: Outcome) -> None:
    action = outcome.action
    if outcome.status is not OutcomeStatus.APPLIED:
        return
    if isinstance(action, PutLinker):
        counter = telemetry.connections_created if action.reason == "missing" else telemetry.connections_repaired
        counter.add(1, {"auth": action.intent.auth.value})
    elif isinstance(action, DeleteLinker):
        telemetry.connections_removed.add(1)
    elif isinstance(action, RewireWorkload):
        telemetry.workloads_rewired.add(1, {"kind": action.workload.kind})


# an ARM write that failed beyond its retries, by kind (CONFLICT defers; FORBIDDEN and UNREGISTERED have their own)
ARM_WRITE_CODES = {
    FailureKind.THROTTLED: Code.ARM_THROTTLED,
    FailureKind.TRANSIENT: Code.ARM_TRANSIENT,
    FailureKind.NOT_FOUND: Code.ARM_NOT_FOUND,
    FailureKind.INVALID: Code.ARM_INVALID,
    FailureKind.CREDENTIAL: Code.ARM_CREDENTIAL,
}


def _kube_write(action: Action) -> tuple[str, str, str, str]:
    """(verb, kind, namespace, name) of the Kubernetes write an action makes."""
    if isinstance(action, RewireWorkload):
        ref = action.workload
        return "patch", ref.kind, ref.namespace, ref.name
    if isinstance(action, DeleteObject):
        return "delete", str(action.kind), action.namespace, action.name
    if isinstance(action, AnnotateObject):
        return "patch", str(action.kind), action.namespace, action.name
    if isinstance(action, PutLinker):  # the Key Vault version recorded on the connection's secret
        return "patch", "Secret", action.intent.namespace, action.intent.secret_name
    return "write", type(action).__name__, "", ""


def _resource_of(action: Action) -> str:
    if isinstance(action, PutLinker):
        return f"{action.intent.cluster.id}/providers/Microsoft.ServiceLinker/linkers/{action.intent.linker_name}"
    if isinstance(action, RegisterProvider):
        return f"/subscriptions/{action.subscription_id}/providers/{action.namespace}"
    return action.cluster.id


def _finding(code: Code, resource: str, message: str, fix: str, tag: str | None = None) -> Finding:
    return Finding(code, resource, message, fix, tag)
