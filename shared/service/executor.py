"""Applies a Plan through the adapters, one action at a time, and says what happened to each."""

from __future__ import annotations

import logging

import jsonpatch
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as KubeTransportError

from shared.adapters import telemetry
from shared.adapters.azure.arm import Arm
from shared.adapters.azure.errors import FailureKind, classify
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.kube.api import KubeApi
from shared.adapters.kube.client import KubeClients
from shared.adapters.logs import get_logger, log_event
from shared.core import naming
from shared.core.codes import Code, Finding
from shared.core.manifests import rewire
from shared.core.model import AuthKind, Intent
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
from shared.core.tags import SecretUrlError
from shared.service.results import Outcome

log = get_logger("executor")
CONFLICT_ATTEMPTS = 4
AZURE_ERRORS = (HttpResponseError, ServiceRequestError, ServiceResponseError)


class Executor:
    def __init__(self, arm: Arm, kube: KubeClients, keyvault: KeyVault, protected_namespaces: tuple[str, ...]):
        self.arm = arm
        self.kube = kube
        self.keyvault = keyvault
        self.protected = protected_namespaces

    def apply(self, actions: tuple[Action, ...], correlation_id: str | None = None) -> list[Outcome]:
        outcomes = []
        rewire_failed = cleanup_failed = False
        for action in actions:
            if rewire_failed and isinstance(action, DeleteLinker | DeleteObject):
                # The plan deletes a secret or service account because its rewires take every reference away; one
                # of them failed, so a workload may still use it. Delete nothing now: the next run redoes all of it.
                outcome = Outcome(action, "skipped", "a workload could not be rewired first; retried next run")
            elif cleanup_failed and isinstance(action, DeleteLinker):
                # A linker's secret and service account are planned just before it; keep the linker while they
                # remain, or no later plan would delete them (only the orphan sweep would find them).
                outcome = Outcome(action, "skipped", "its secret or service account is still there; retried next run")
            else:
                outcome = self._apply_one(action)
            rewire_failed |= isinstance(action, RewireWorkload) and outcome.status == "failed"
            cleanup_failed = not isinstance(action, DeleteLinker) and (
                cleanup_failed or (isinstance(action, DeleteObject) and outcome.status == "failed")
            )
            _count(outcome)
            level = logging.WARNING if outcome.status == "failed" else logging.INFO
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
            if isinstance(action, Defer):
                return Outcome(action, "deferred", action.reason)
            if isinstance(action, RegisterProvider):
                state = self.arm.register_provider(action.subscription_id, action.namespace)
                return Outcome(action, "applied", state)
            if isinstance(action, PutLinker):
                return self._put_linker(action)
            if isinstance(action, DeleteLinker):
                self.arm.delete_linker(action.cluster.id, action.name)
                return Outcome(action, "applied")
            if isinstance(action, RewireWorkload):
                return self._rewire(action)
            if isinstance(action, DeleteObject):
                return self._delete_object(action)
            if isinstance(action, AnnotateObject):
                return self._annotate(action)
        except AZURE_ERRORS as error:
            return self._azure_failure(action, error)
        except ApiException as error:
            return self._kube_failure(action, error)
        except KubeTransportError as error:  # the connection dropped or timed out (the API server may have acted)
            return Outcome(action, "failed", f"Kubernetes API unreachable: {type(error).__name__}")
        raise TypeError(f"unknown action {type(action).__name__}")

    # -- Service Connector -----------------------------------------------------------------------------
    def _put_linker(self, action: PutLinker) -> Outcome:
        intent = action.intent
        try:
            body = self._linker_body(intent)
        except SecretUrlError as error:
            return Outcome(
                action,
                "failed",
                str(error),
                _finding(
                    Code.TAG_INVALID,
                    intent.target.id,
                    f"sc-sql-password: {error}",
                    "point it at a Key Vault secret",
                    "sc-sql-password",
                ),
            )
        except HttpResponseError as error:  # the Key Vault read: the tag names a vault or secret the app cannot read
            failure = classify(error)
            if failure.kind not in (FailureKind.NOT_FOUND, FailureKind.FORBIDDEN):
                raise  # throttled or transient: handled like any other Azure error
            finding = _finding(
                Code.KEYVAULT_SECRET_UNREADABLE,
                intent.target.id,
                f"sc-sql-password: the app cannot read {intent.sql_password_url} ({failure.code or failure.status})",
                "point sc-sql-password at an existing secret and grant the app 'Key Vault Secrets User' on its vault",
                "sc-sql-password",
            )
            return Outcome(action, "failed", failure.code or str(failure.status), finding)
        linker = self.arm.put_linker(intent.cluster.id, intent.linker_name, body)
        return Outcome(action, "applied", linker.provisioning_state or "")

    def _linker_body(self, intent: Intent) -> dict:
        if intent.auth is AuthKind.WORKLOAD_IDENTITY:
            auth = {
                "authType": "userAssignedIdentity",
                "clientId": intent.identity.client_id,
                "subscriptionId": intent.identity.ref.subscription_id,
            }
        elif intent.sql_password_url:
            password = self.keyvault.read_secret(intent.sql_password_url)  # read now, used once, never kept
            auth = {
                "authType": "secret",
                "name": intent.sql_user,
                "secretInfo": {"secretType": "rawValue", "value": password},
            }
        else:
            auth = {"authType": "secret"}  # the service fetches the target's keys itself
        return {
            "properties": {
                "targetService": {"type": "AzureResource", "id": intent.target.id},
                "authInfo": auth,
                "clientType": intent.client_type,
                "scope": intent.namespace,
            }
        }

    # -- Kubernetes ------------------------------------------------------------------------------------
    def _rewire(self, action: RewireWorkload) -> Outcome:
        """Read-modify-write with a JSON patch guarded by `test` on resourceVersion; re-read on conflict."""
        if action.workload.namespace in self.protected:
            return Outcome(action, "skipped", "protected namespace")
        api = KubeApi(self.kube.for_cluster(action.cluster))
        ref = action.workload
        basis = action.basis
        for _ in range(CONFLICT_ATTEMPTS):
            current, basis = basis or api.get(ref.kind, ref.namespace, ref.name), None  # planned basis first
            if current is None:
                return Outcome(action, "skipped", "the workload is gone")
            wanted = rewire(current, dict(action.wirings))
            operations = jsonpatch.make_patch(current, wanted).patch
            if not operations:
                return Outcome(action, "skipped", "already as wanted")
            guard = {"op": "test", "path": "/metadata/resourceVersion", "value": current["metadata"]["resourceVersion"]}
            try:
                api.json_patch(ref.kind, ref.namespace, ref.name, [guard, *operations])
                return Outcome(action, "applied")
            except ApiException as error:
                if error.status == 404:
                    return Outcome(action, "skipped", "the workload is gone")
                if error.status not in (409, 422) or not _is_conflict(error):
                    raise
        return Outcome(action, "failed", "the workload kept changing; retried next run")

    def _delete_object(self, action: DeleteObject) -> Outcome:
        kind = action.kind
        ours = (
            naming.is_service_connector_secret(action.name)
            if kind == "Secret"
            else action.name.startswith("sc-account-")
        )
        if action.namespace in self.protected or not ours:
            return Outcome(action, "skipped", "not ours to delete")
        api = KubeApi(self.kube.for_cluster(action.cluster))
        current = api.get(kind, action.namespace, action.name)
        if current is None:
            return Outcome(action, "skipped", "already gone")
        meta = current["metadata"]
        deleted = api.delete(
            kind, action.namespace, action.name, uid=meta["uid"], resource_version=meta["resourceVersion"]
        )
        return Outcome(action, "applied" if deleted else "skipped")

    def _annotate(self, action: AnnotateObject) -> Outcome:
        if action.namespace in self.protected:
            return Outcome(action, "skipped", "protected namespace")
        api = KubeApi(self.kube.for_cluster(action.cluster))
        api.merge_patch(
            action.kind, action.namespace, action.name, {"metadata": {"annotations": dict(action.annotations)}}
        )
        return Outcome(action, "applied")

    # -- failures --------------------------------------------------------------------------------------
    def _azure_failure(self, action: Action, error: BaseException) -> Outcome:
        failure = classify(error)
        resource = _resource_of(action)
        if failure.kind is FailureKind.CONFLICT:
            return Outcome(action, "deferred", "the cluster is busy (Conflict); retried later")
        if failure.kind is FailureKind.FORBIDDEN:
            action_name, scope = failure.missing_right or ("?", resource)
            finding = _finding(
                Code.PERMISSION_MISSING,
                resource,
                f"the app may not perform {action_name} on {scope}",
                f"grant the app's identity '{action_name}' on {scope} (infra/roles)",
            )
            return Outcome(action, "failed", failure.code, finding)
        if failure.kind is FailureKind.UNREGISTERED:
            finding = _finding(
                Code.PROVIDER_NOT_REGISTERED,
                resource,
                failure.message,
                "register the resource provider or allow the app to (Microsoft.*/register/action)",
            )
            return Outcome(action, "failed", failure.code, finding)
        finding = _finding(
            Code[f"ARM_{failure.kind.name}"],
            resource,
            f"{failure.code}: {failure.message[:300]}",
            "see docs/operations.md for this error",
        )
        return Outcome(action, "failed", failure.code, finding)

    def _kube_failure(self, action: Action, error: ApiException) -> Outcome:
        resource = _resource_of(action)
        if error.status == 403:
            finding = _finding(
                Code.KUBE_FORBIDDEN,
                resource,
                "the app is not allowed to change this workload",
                "assign the app 'Azure Kubernetes Service RBAC Writer' on the cluster",
            )
            return Outcome(action, "failed", "Forbidden", finding)
        return Outcome(action, "failed", f"Kubernetes API answered {error.status}")


def _count(outcome: Outcome) -> None:
    action = outcome.action
    if outcome.status != "applied":
        if outcome.detail == "TooManyRequests":
            telemetry.throttled.add(1)
        return
    if isinstance(action, PutLinker):
        counter = telemetry.connections_created if action.reason == "missing" else telemetry.connections_repaired
        counter.add(1, {"auth": action.intent.auth.value})
    elif isinstance(action, DeleteLinker):
        telemetry.connections_removed.add(1)
    elif isinstance(action, RewireWorkload):
        telemetry.workloads_rewired.add(1, {"kind": action.workload.kind})


def _is_conflict(error: ApiException) -> bool:
    body = (error.body or "").lower()
    return error.status == 409 or "test" in body or "resourceversion" in body


def _resource_of(action: Action) -> str:
    if isinstance(action, PutLinker):
        return f"{action.intent.cluster.id}/providers/Microsoft.ServiceLinker/linkers/{action.intent.linker_name}"
    if isinstance(action, RegisterProvider):
        return f"/subscriptions/{action.subscription_id}/providers/{action.namespace}"
    return action.cluster.id


def _finding(code: Code, resource: str, message: str, fix: str, tag: str | None = None) -> Finding:
    return Finding(code, resource, message, fix, tag)
