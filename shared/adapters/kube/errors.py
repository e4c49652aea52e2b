"""What a Kubernetes API error means for us, like azure/errors.classify for ARM: retry it, or report it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import urllib3
from kubernetes.client.exceptions import ApiException

from shared.adapters.errors import ReadError
from shared.core.codes import ReadFailure

RETRY_AFTER_CAP_SECONDS = 30.0
# kube-apiserver's whole answer to a JSON patch that does not apply (a failed `test`, a path gone): 422 Invalid with
# no details (apimachinery NewGenericServerResponse). Our patches are computed from a fresh read and guarded by a
# `test` on resourceVersion, so it means the object changed since: a conflict (seen against v1.37.2, docs/FACTS.md).
PATCH_DID_NOT_APPLY = "the server rejected our request due to an error in our request"


class KubeFailureKind(Enum):
    THROTTLED = "throttled"  # 429
    TRANSIENT = "transient"  # 5xx, a dropped connection, a timeout (the server may have acted)
    CONFLICT = "conflict"  # 409, or a JSON patch that no longer applies (422, see PATCH_DID_NOT_APPLY): re-read, retry
    FORBIDDEN = "forbidden"  # 401/403: an operator must grant a right
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # 400/422: our request is wrong


RETRYABLE = frozenset({KubeFailureKind.THROTTLED, KubeFailureKind.TRANSIENT})
KUBE_ERRORS = (ApiException, urllib3.exceptions.HTTPError)


@dataclass(frozen=True)
class KubeFailure:
    kind: KubeFailureKind
    status: int | None
    reason: str
    retry_after: float = 0.0


CONNECTION_REFUSED = "ConnectionRefused"  # nothing listens at the API server's address (KubeFailure.reason)


def classify(error: BaseException) -> KubeFailure:
    if isinstance(error, urllib3.exceptions.HTTPError):
        return KubeFailure(
            KubeFailureKind.TRANSIENT, None, CONNECTION_REFUSED if _refused(error) else type(error).__name__
        )
    if not isinstance(error, ApiException):
        raise TypeError(f"not a Kubernetes client error: {type(error).__name__}")
    status, body = error.status, (error.body or "")
    if status == 429:
        return KubeFailure(KubeFailureKind.THROTTLED, status, "TooManyRequests", _retry_after(error))
    if status in (401, 403):
        return KubeFailure(KubeFailureKind.FORBIDDEN, status, "Forbidden")
    if status == 404:
        return KubeFailure(KubeFailureKind.NOT_FOUND, status, "NotFound")
    lowered = body.lower()
    if status == 409 or (status == 422 and (PATCH_DID_NOT_APPLY in lowered or "resourceversion" in lowered)):
        return KubeFailure(KubeFailureKind.CONFLICT, status, "Conflict")
    if status is None or status >= 500 or status == 408:
        return KubeFailure(KubeFailureKind.TRANSIENT, status, error.reason or "ServerError", _retry_after(error))
    return KubeFailure(KubeFailureKind.INVALID, status, error.reason or "Invalid")


def read_failed(read: str, resource_id: str, error: BaseException, endpoint: str = "") -> ReadError:
    failure = classify(error)
    message = f"connection refused by {endpoint}" if failure.reason == CONNECTION_REFUSED and endpoint else ""
    return ReadError(ReadFailure(read, resource_id, failure.status, failure.reason, message))


def _refused(error: urllib3.exceptions.HTTPError) -> bool:
    """A connection the API server's address refused (urllib3 wraps it in MaxRetryError even with retries off)."""
    cause = getattr(error, "reason", None) or error
    return isinstance(cause, urllib3.exceptions.NewConnectionError) and "refused" in str(cause).lower()


def _retry_after(error: ApiException) -> float:
    try:
        return min(RETRY_AFTER_CAP_SECONDS, float((error.headers or {}).get("Retry-After") or 0))
    except ValueError:
        return 0.0
