"""Before a CLI run: is there a usable credential, and does ARM answer at all? Said in one line, in seconds.

Without this, a run with no credential or a stopped endpoint goes through every read's retries (5 attempts each,
the credential chain tried and logged on every one) and ends, a minute later, in READ_FAILED findings that call it a
service outage. The Functions host does not call this: there the platform's redelivery is the retry.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from shared.config import Settings

NO_CREDENTIAL = "no Azure credential: run `az login`, or set AZURE_CLIENT_ID for a managed identity"
METADATA = "/metadata/endpoints?api-version=2022-09-01"  # ARM answers it without a token (FACTS.md section 10)
_ENDPOINT = re.compile(r"host='(?P<host>[^']+)', port=(?P<port>\d+)")
_REFUSED = ("Connection refused", "Failed to establish a new connection", "Max retries exceeded")


class PreflightError(Exception):
    """A run cannot start; the message names the cause and what to do."""


class UnreachableError(PreflightError):
    """An endpoint refused or did not answer (ARM, or the managed-identity endpoint)."""


class NoCredentialError(PreflightError):
    """No credential in DefaultAzureCredential's chain can give a token."""


def check(settings: Settings, credential: TokenCredential, timeout: float = 5.0, quiet: bool = True) -> None:
    """Raise UnreachableError or NoCredential, or return: ARM answers and a token for it can be had."""
    check_arm(settings.arm_endpoint, timeout)
    check_credential(credential, settings.arm_scope, quiet)


def check_arm(endpoint: str, timeout: float) -> None:
    """One unauthenticated GET, no retry: any HTTP answer means the endpoint is there."""
    try:
        requests.get(endpoint + METADATA, timeout=(timeout, timeout * 2), allow_redirects=False)
    except requests.ConnectionError as error:
        reason = _reason(error)
        raise UnreachableError(
            f"cannot reach Azure Resource Manager at {endpoint} ({reason}): check SC_ARM_ENDPOINT and the network, "
            "or start the local cloud (make emulator)"
        ) from None
    except requests.Timeout:
        raise UnreachableError(f"Azure Resource Manager at {endpoint} did not answer within {timeout:g} s") from None


def check_credential(credential: TokenCredential, scope: str, quiet: bool) -> None:
    with _muted("azure.identity", quiet):
        try:
            credential.get_token(scope)
        except ClientAuthenticationError as error:
            text = str(error)
            endpoint = _ENDPOINT.search(text)
            if endpoint and any(marker in text for marker in _REFUSED):
                raise UnreachableError(
                    f"cannot reach the managed identity endpoint {endpoint['host']}:{endpoint['port']} "
                    "(connection refused): is the local cloud (make emulator) or the identity endpoint running?"
                ) from None
            raise NoCredentialError(NO_CREDENTIAL) from None


def _reason(error: requests.ConnectionError) -> str:
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "unknown host"
    return text.split(": ")[-1][:120]


@contextmanager
def _muted(name: str, quiet: bool):
    """The credential chain logs a dozen-line warning per failure: kept for --debug, not for a one-line answer."""
    logger = logging.getLogger(name)
    before = logger.level
    if quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def subscription_names(settings: Settings, credential: TokenCredential, timeout: float = 10.0) -> dict[str, str]:
    """The subscriptions the credential sees, id -> display name (`GET /subscriptions`, what `az account list`
    reads), so `--subscription` takes a name as az does. A failure is UnreachableError: no filter is guessed."""
    token = credential.get_token(settings.arm_scope).token
    url: str | None = f"{settings.arm_endpoint}/subscriptions?api-version=2022-12-01"
    names: dict[str, str] = {}
    while url:
        try:
            answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
            answer.raise_for_status()
        except requests.RequestException as error:
            raise UnreachableError(f"cannot list the subscriptions at {settings.arm_endpoint}: {error}") from None
        page = answer.json()
        names |= {s["subscriptionId"].lower(): s.get("displayName") or "" for s in page.get("value", [])}
        url = page.get("nextLink")
    return names
