"""What an Azure error means for us: retry it, defer, or turn it into a finding with the operator's fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from shared.adapters.errors import ReadError
from shared.core.codes import ReadFailure

_FORBIDDEN = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")


class FailureKind(Enum):
    THROTTLED = "throttled"  # 429: wait Retry-After
    TRANSIENT = "transient"  # 5xx, connection resets, timeouts
    CONFLICT = "conflict"  # 409 / GeneralUserError 'Conflict': the cluster is busy
    FORBIDDEN = "forbidden"  # 403 AuthorizationFailed: an operator must grant a right
    UNREGISTERED = "unregistered"  # 409 MissingSubscriptionRegistration
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # 400: our request is wrong (a bug or bad tags)
    CREDENTIAL = "credential"  # no token could be had, or ARM refused ours (401): not an outage, never retried


RETRYABLE = {FailureKind.THROTTLED, FailureKind.TRANSIENT, FailureKind.CONFLICT}
AZURE_ERRORS = (HttpResponseError, ServiceRequestError, ServiceResponseError)
# A 404 whose code says the resource itself is absent; any other 404 (a subscription ARM does not know, an API
# version or a route that is wrong) is a failed read, not an absence.
ABSENT_CODES = frozenset({"ResourceNotFound", "NotFound", "ResourceGroupNotFound", "ParentResourceNotFound", ""})
# A long-running operation that ended Failed reaches us on a 200 polling response: its error code says whether the
# service broke (worth another try) or our request was wrong.
CREDENTIAL_UNAVAILABLE = "CredentialUnavailable"  # ReadFailure.error for a token that could not be had
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
    if isinstance(error, ClientAuthenticationError) and error.status_code in (None, 401):
        return AzureFailure(FailureKind.CREDENTIAL, error.status_code, CREDENTIAL_UNAVAILABLE, _first_line(error))
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


def _first_line(error: BaseException) -> str:
    """The credential chain's message is a dozen lines, one per credential tried: its first says enough."""
    return (str(error.message if isinstance(error, HttpResponseError) else error) or "").splitlines()[0][:300]


def _retry_after(error: HttpResponseError) -> float:
    response = error.response
    if response is None:
        return 0.0
    try:
        return float(response.headers.get("Retry-After") or 0)
    except ValueError:
        return 0.0


def is_absent(error: BaseException) -> bool:
    """A 404 that says the resource itself does not exist (the only failure that may become "absent")."""
    if not isinstance(error, HttpResponseError) or error.status_code != 404:
        return False
    return ((error.error.code if error.error else None) or "") in ABSENT_CODES


def read_failed(read: str, resource_id: str, error: BaseException) -> ReadError:
    failure = classify(error)
    return ReadError(ReadFailure(read, resource_id, failure.status, failure.code or type(error).__name__,
                                  failure.message[:300]))  # fmt: skip


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, AZURE_ERRORS) and classify(error).kind in RETRYABLE


def with_retries(attempts: int = 5, base_seconds: float = 1.0, max_seconds: float = 60.0) -> Retrying:
    """THE retry policy for Azure calls (azure-core's own RetryPolicy is off: AzureClients sets retry_total=0, so
    the two never multiply): throttling, transient and conflict failures, exponential backoff 1, 2, 4, 8 s or the
    server's Retry-After, each wait capped at `max_seconds`. Worst case per call: 5 attempts and 4 waits, i.e.
    5 x SC_HTTP_TIMEOUT_SECONDS + 240 s; for an LRO each attempt is the whole operation."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = classify(error).retry_after if error is not None else 0.0
        backoff = base_seconds * 2 ** (state.attempt_number - 1)
        return min(max_seconds, max(hinted, backoff))

    return Retrying(retry=retry_if_exception(_is_retryable), wait=wait, stop=stop_after_attempt(attempts), reraise=True)
