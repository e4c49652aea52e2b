"""Read a SQL password from Key Vault at apply time, with the app's own identity. Never stored, never logged."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from shared.azure.clients import AzureClients
from shared.logs import redact

_SECRET_PATH = re.compile(r"^/secrets/(?P<name>[0-9A-Za-z-]{1,127})(?:/(?P<version>[0-9a-fA-F]{32}))?/?$")


class SecretUrlError(ValueError):
    """The URL is not a Key Vault secret URL in an allowed vault domain."""


def split_secret_url(url: str, allowed_suffixes: tuple[str, ...]) -> tuple[str, str, str | None]:
    """(vault URL, secret name, version) of `https://<vault>.<suffix>/secrets/<name>[/<version>]`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.port not in (None, 443) or parts.query or parts.fragment:
        raise SecretUrlError("expected https://<vault>.vault.azure.net/secrets/<name>[/<version>]")
    vault = next((host[: -len(s) - 1] for s in allowed_suffixes if host.endswith("." + s.lower())), None)
    if not vault or not re.fullmatch(r"[a-z0-9-]{3,24}", vault):
        raise SecretUrlError(f"host {host!r} is not a vault in {', '.join(allowed_suffixes)}")
    match = _SECRET_PATH.match(parts.path)
    if match is None:
        raise SecretUrlError("the path must be /secrets/<name>[/<version>]")
    return f"https://{host}", match.group("name"), match.group("version")


class KeyVault:
    def __init__(self, clients: AzureClients):
        self.clients = clients

    def read_secret(self, url: str) -> str:
        vault_url, name, version = split_secret_url(url, self.clients.settings.keyvault_dns_suffixes)
        value = self.clients.secrets(vault_url).get_secret(name, version).value or ""
        redact(value)
        return value
