"""The app's one Azure credential, in a module of its own so the CLI can check it before loading the SDK clients."""

from __future__ import annotations

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential

from shared.config import Settings


def default_credential(settings: Settings) -> TokenCredential:
    """Functions: the app's user-assigned identity (AZURE_CLIENT_ID); a laptop: `az login`."""
    return DefaultAzureCredential(managed_identity_client_id=settings.managed_identity_client_id)
