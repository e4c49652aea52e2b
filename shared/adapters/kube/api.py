"""Thin, generic access to one cluster's Kubernetes API through the `kubernetes` client's ApiClient.

Objects stay plain dicts (as the API server sends them) so that read-modify-write patches are exact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from shared.adapters.kube.errors import CONNECTION_REFUSED, KUBE_ERRORS, RETRYABLE, classify, read_failed
from shared.core.gitops import FIELD_MANAGER
from shared.core.manifests import WORKLOAD_KINDS

METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
JSON = "application/json"
PAGE = 500
CORE = "/api/v1"
# The one retry policy for Kubernetes calls (the client's own urllib3 retries are off: KubeClients sets
# `retries=False`). Worst case per call: 4 attempts, waits of 0.5 + 1 + 2 s (or Retry-After, capped at 30 s each),
# so at most 4 x SC_HTTP_TIMEOUT_SECONDS + 90 s.
ATTEMPTS = 4
DEFAULT_RETRY_BASE_SECONDS = 0.5
DEFAULT_TIMEOUT_SECONDS = 60.0  # KubeClients sets `request_timeout` on each ApiClient from SC_HTTP_TIMEOUT_SECONDS

# kind -> (group path, plural) for everything we read or write
RESOURCES: dict[str, tuple[str, str]] = {
    **{kind: (group, plural) for kind, (group, plural, _) in WORKLOAD_KINDS.items()},
    "Secret": (CORE, "secrets"),
    "ServiceAccount": (CORE, "serviceaccounts"),
    "Namespace": (CORE, "namespaces"),
}


class KubeApi:
    def __init__(self, api_client: k8s.ApiClient):
        self.api_client = api_client

    def _call(self, method: str, path: str, *, query: dict | None = None, body: Any = None,
              accept: str = JSON, content_type: str = JSON) -> dict:  # fmt: skip
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        method, url, headers, body, _ = self.api_client.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        timeout = getattr(self.api_client, "request_timeout", DEFAULT_TIMEOUT_SECONDS)  # connect and read each

        def send() -> dict:
            response = self.api_client.call_api(
                method, url, header_params=headers, body=body, _request_timeout=(timeout, timeout)
            )
            data = response.read()
            if not 200 <= response.status < 300:
                raise ApiException(http_resp=response, body=data.decode(errors="replace"))
            return json.loads(data or b"{}")

        # Every call we make is safe to repeat: reads; patches guarded by a resourceVersion test (a repeat of one
        # that landed fails the test and is re-read); deletes with preconditions; annotations (same value).
        base = getattr(self.api_client, "retry_base_seconds", DEFAULT_RETRY_BASE_SECONDS)

        def wait(state: RetryCallState) -> float:
            """Retry-After when the server sends one (capped), else base, 2 x base, 4 x base (0.5 s, 1 s, 2 s)."""
            error = state.outcome.exception() if state.outcome else None
            hinted = classify(error).retry_after if isinstance(error, KUBE_ERRORS) else 0.0
            return max(hinted, base * 2 ** (state.attempt_number - 1))

        again = _retryable if getattr(self.api_client, "retry_refused", True) else _retryable_unless_refused
        return Retrying(retry=retry_if_exception(again), wait=wait, stop=stop_after_attempt(ATTEMPTS),
                        reraise=True)(send)  # fmt: skip

    def list(
        self, kind: str, *, metadata_only: bool = False, label_selector: str | None = None, cluster_id: str = ""
    ) -> list[dict]:
        """Every object of a kind in the cluster, page by page (limit/continue): all of them, or ReadError."""
        try:
            return self._list(kind, metadata_only, label_selector)
        except KUBE_ERRORS as error:
            host = self.api_client.configuration.host
            raise read_failed(f"{kind} list", cluster_id or host, error, endpoint=host) from error

    def _list(self, kind: str, metadata_only: bool, label_selector: str | None) -> list[dict]:
        group, plural = RESOURCES[kind]
        query: dict[str, Any] = {"limit": PAGE}
        if label_selector:
            query["labelSelector"] = label_selector
        items: list[dict] = []
        while True:
            page = self._call("GET", f"{group}/{plural}", query=query, accept=METADATA_ONLY if metadata_only else JSON)
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        """The object, None when the API server says it does not exist (404), else ReadError."""
        group, plural = RESOURCES[kind]
        try:
            return self._call("GET", f"{group}/namespaces/{namespace}/{plural}/{name}")
        except ApiException as error:
            if error.status == 404:
                return None
            raise read_failed(f"{kind} {namespace}/{name}", self.api_client.configuration.host, error) from error
        except KUBE_ERRORS as error:
            host = self.api_client.configuration.host
            raise read_failed(f"{kind} {namespace}/{name}", host, error, endpoint=host) from error

    def json_patch(self, kind: str, namespace: str, name: str, operations: list[dict]) -> dict:
        group, plural = RESOURCES[kind]
        return self._call(
            "PATCH",
            f"{group}/namespaces/{namespace}/{plural}/{name}",
            query={"fieldManager": FIELD_MANAGER},
            body=operations,
            content_type="application/json-patch+json",
        )

    def merge_patch(self, kind: str, namespace: str, name: str, patch: dict) -> dict:
        group, plural = RESOURCES[kind]
        return self._call(
            "PATCH", f"{group}/namespaces/{namespace}/{plural}/{name}", query={"fieldManager": FIELD_MANAGER},
            body=patch, content_type="application/merge-patch+json",
        )  # fmt: skip

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        """The keys of a secret, values dropped at once (the sweep needs names, never values)."""
        secret = self.get("Secret", namespace, name)
        return None if secret is None else frozenset((secret.get("data") or {}).keys())

    def secret_digest(self, namespace: str, name: str) -> str | None:
        """An HMAC-SHA256 of a secret's content, keyed by its namespace and name (the same content in two secrets
        digests differently), computed here and the values dropped at once: never returned, never logged."""
        secret = self.get("Secret", namespace, name)
        if secret is None:
            return None
        data = secret.get("data") or {}
        material = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(f"sc-autopilot/{namespace}/{name}".encode(), material, hashlib.sha256).hexdigest()

    def delete(self, kind: str, namespace: str, name: str, *, uid: str, resource_version: str) -> bool:
        """Delete exactly the object we looked at: preconditions on uid and resourceVersion (409 otherwise)."""
        group, plural = RESOURCES[kind]
        options = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"uid": uid, "resourceVersion": resource_version},
        }
        try:
            self._call("DELETE", f"{group}/namespaces/{namespace}/{plural}/{name}", body=options)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True


def _retryable(error: BaseException) -> bool:
    """Throttling, server errors, dropped connections and timeouts: worth another try within the run."""
    return isinstance(error, KUBE_ERRORS) and classify(error).kind in RETRYABLE


def _retryable_unless_refused(error: BaseException) -> bool:
    """The CLI's rule: nothing listening at the API server is said at once, not after a backoff."""
    return _retryable(error) and classify(error).reason != CONNECTION_REFUSED
