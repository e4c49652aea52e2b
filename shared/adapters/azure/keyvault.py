"""Read a SQL password from Key Vault at apply time, with the app's own identity. Never stored, never logged.
Between writes only the versions' metadata is read (list versions: no value)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.errors import AZURE_ERRORS, read_failed, with_retries
from shared.adapters.logs import redact
from shared.core.model import VaultVersion
from shared.core.tags import split_secret_url


@dataclass(frozen=True)
class VaultSecret:
    """One secret version as read: its value (used once, never kept) with that version's own tags (its owner's
    consent), so the consent checked is the consent of exactly the value sent."""

    vault_url: str
    name: str
    version: str
    value: str = field(repr=False)
    tags: dict[str, str] = field(default_factory=dict)


class KeyVault:
    def __init__(self, clients: AzureClients):
        self.clients = clients

    def read_secret(self, url: str, version: str | None = None) -> VaultSecret:
        """The value of the version the URL names, else of `version` (the one the plan chose), else the current."""
        vault_url, name, pinned = split_secret_url(url, self.clients.settings.keyvault_dns_suffixes)
        version = pinned or version
        secrets = self.clients.secrets(vault_url)
        retrying = with_retries(base_seconds=self.clients.settings.retry_base_seconds)  # the one policy, as for ARM
        try:
            secret = retrying(secrets.get_secret, name, version)
        except AZURE_ERRORS as error:  # all or ReadError, like every adapter read
            raise read_failed("Key Vault secret", f"{vault_url}/secrets/{name}", error) from error
        value = secret.value or ""
        redact(value)
        properties = secret.properties
        return VaultSecret(vault_url, name, properties.version or "", value, dict(properties.tags or {}))

    def versions(self, url: str) -> tuple[VaultVersion, ...]:
        """Every version of the secret the URL names, metadata only (Key Vault Secrets User's readMetadata): all of
        them, or ReadError."""
        vault_url, name, _ = split_secret_url(url, self.clients.settings.keyvault_dns_suffixes)
        secrets = self.clients.secrets(vault_url)
        retrying = with_retries(base_seconds=self.clients.settings.retry_base_seconds)
        try:
            listed = retrying(lambda: list(secrets.list_properties_of_secret_versions(name)))
        except AZURE_ERRORS as error:
            raise read_failed("Key Vault secret versions", f"{vault_url}/secrets/{name}", error) from error
        return tuple(
            VaultVersion(vault_url, p.name or name, p.version or "", bool(p.enabled), p.expires_on, p.not_before,
                         p.created_on, dict(p.tags or {}))
            for p in listed
        )  # fmt: skip
