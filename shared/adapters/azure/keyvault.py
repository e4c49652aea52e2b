"""Read a SQL password from Key Vault at apply time, with the app's own identity. Never stored, never logged."""

from __future__ import annotations

from shared.adapters.azure.clients import AzureClients
from shared.adapters.logs import redact
from shared.core.tags import split_secret_url


class KeyVault:
    def __init__(self, clients: AzureClients):
        self.clients = clients

    def read_secret(self, url: str) -> str:
        vault_url, name, version = split_secret_url(url, self.clients.settings.keyvault_dns_suffixes)
        value = self.clients.secrets(vault_url).get_secret(name, version).value or ""
        redact(value)
        return value
