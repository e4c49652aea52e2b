"""Read a SQL password from Key Vault at apply time, with the app's own identity. Never stored, never logged."""

from __future__ import annotations

from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.errors import with_retries
from shared.adapters.logs import redact
from shared.core.tags import split_secret_url


class KeyVault:
    def __init__(self, clients: AzureClients):
        self.clients = clients

    def read_secret(self, url: str) -> str:
        vault_url, name, version = split_secret_url(url, self.clients.settings.keyvault_dns_suffixes)
        secrets = self.clients.secrets(vault_url)
        retrying = with_retries(base_seconds=self.clients.settings.retry_base_seconds)  # the one policy, as for ARM
        value = retrying(secrets.get_secret, name, version).value or ""
        redact(value)
        return value
