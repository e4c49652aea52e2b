"""A credential that cannot give a token is not a service outage: never retried, never "check the service's health",
and its READ_FAILED finding says what to do (`az login`, or a managed identity)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity import CredentialUnavailableError

from shared.adapters.azure.errors import FailureKind, classify, read_failed, with_retries


@pytest.mark.parametrize(
    "error",
    [
        CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token\nAttempted credentials:\n\t..."),
        ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included credentials."),
    ],
)
def test_no_token_is_a_credential_failure_named_as_such(error):
    failure = classify(error)
    assert failure.kind is FailureKind.CREDENTIAL and "\n" not in failure.message
    finding = read_failed("tag listing", "/subscriptions/s", error).failures[0].finding()
    assert "az login" in finding.fix and "AZURE_CLIENT_ID" in finding.fix
    assert "service's health" not in finding.fix and "Attempted credentials" not in finding.message


def test_a_credential_failure_is_tried_once_a_dropped_connection_again():
    calls = []

    def no_token():
        calls.append(1)
        raise CredentialUnavailableError("no credential")

    with pytest.raises(CredentialUnavailableError):
        with_retries(attempts=5, base_seconds=0)(no_token)
    assert len(calls) == 1
    assert classify(ServiceRequestError("Connection refused")).kind is FailureKind.TRANSIENT  # still retried
