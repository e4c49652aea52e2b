"""What an Azure error means for us: retry it, defer, or turn it into a finding with the operator's fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

_FORBIDDEN = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")


class FailureKind(Enum):
    THROTTLED = "throttled"  # 429: wait Retry-After
    TRANSIENT = "transient"  # 5xx, connection resets, timeouts
    CONFLICT = "conflict"  # 409 / GeneralUserError 'Conflict': the cluster is busy
    FORBIDDEN = "forbidden"  # 403 AuthorizationFailed: an operator must grant a right
    UNREGISTERED = "unregistered"  # 409 MissingSubscriptionRegistration
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # 400: our request is wrong (a bug or bad tags)


RETRYABLE = {FailureKind.THROTTLED, FailureKind.TRANSIENT, FailureKind.CONFLICT}
# A long-running operation that ended Failed reaches us on a 200 polling response: its error code says whether the
# service broke (worth another try) or our request was wrong.
TRANSIENT_CODES = frozenset({"InternalServerError", "InternalError", "ServiceUnavailable", "GatewayTimeout"})


@dataclass(frozen=True)
class AzureFailure:
    kind: FailureKind
    status: int | None
    code: str
    message: str
    retry_after: float = 0.0

    @property
    def missing_right(self) -> tuple[str, str] | None:
        """(action, scope) named by an AuthorizationFailed message."""
        match = _FORBIDDEN.search(self.message)
        return (match.group("action"), match.group("scope")) if match else None


def classify(error: BaseException) -> AzureFailure:
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return AzureFailure(FailureKind.TRANSIENT, None, "ConnectionError", str(error)[:300])
    if not isinstance(error, HttpResponseError):
        raise TypeError(f"not an Azure SDK error: {type(error).__name__}")
    status = error.status_code
    code = (error.error.code if error.error else None) or ""
    message = (error.error.message if error.error else None) or str(error.message or "")
    retry_after = _retry_after(error)
    if status == 429:
        return AzureFailure(FailureKind.THROTTLED, status, code, message, retry_after)
    if status == 403:
        return AzureFailure(FailureKind.FORBIDDEN, status, code, message)
    if code == "MissingSubscriptionRegistration":
        return AzureFailure(FailureKind.UNREGISTERED, status, code, message)
    if status == 409 or (code == "GeneralUserError" and "Conflict" in message):
        return AzureFailure(FailureKind.CONFLICT, status, code, message, retry_after)
    if status == 404:
        return AzureFailure(FailureKind.NOT_FOUND, status, code, message)
    if status is None or status >= 500 or status == 408 or code in TRANSIENT_CODES:
        return AzureFailure(FailureKind.TRANSIENT, status, code, message, retry_after)
    return AzureFailure(FailureKind.INVALID, status, code, message)


def _retry_after(error: HttpResponseError) -> float:
    response = error.response
    if response is None:
        return 0.0
    try:
        return float(response.headers.get("Retry-After") or 0)
    except ValueError:
        return 0.0


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, HttpResponseError | ServiceRequestError | ServiceResponseError) and (
        classify(error).kind in RETRYABLE
    )


def with_retries(attempts: int = 5, base_seconds: float = 1.0, max_seconds: float = 60.0) -> Retrying:
    """Retry throttling, transient and conflict failures with exponential backoff, honouring Retry-After."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = classify(error).retry_after if error is not None else 0.0
        backoff = min(max_seconds, base_seconds * 2 ** (state.attempt_number - 1))
        return max(hinted, backoff)

    return Retrying(retry=retry_if_exception(_is_retryable), wait=wait, stop=stop_after_attempt(attempts), reraise=True)
