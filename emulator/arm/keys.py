"""Access keys of the emulated data services: stable per resource, in each service's own shape, and the same whether
a client reads them with `listKeys` or Service Connector fetches them for a linker's secret."""

from __future__ import annotations

import base64
import hashlib

from emulator.arm.ids import stable_uuid

SAS_RULE = "RootManageSharedAccessKey"  # the namespace rule Service Bus and Event Hubs create with a namespace


def base64_key(resource_id: str, slot: str, size: int) -> str:
    """A base64 key of `size` bytes (storage and Cosmos: 64 bytes, SAS/Redis/SignalR: 32), derived from the id."""
    seed = hashlib.sha512(f"{resource_id.lower()}|{slot}".encode()).digest()
    return base64.b64encode((seed * (size // len(seed) + 1))[:size]).decode()


def hex_key(resource_id: str, slot: str) -> str:
    """A Cognitive Services key: 32 hex characters."""
    return stable_uuid(slot, resource_id).replace("-", "")


def storage_key(account_id: str, slot: int = 1) -> str:
    return base64_key(account_id, f"key{slot}", 64)


def cosmos_key(account_id: str, slot: str = "primaryMasterKey") -> str:
    return base64_key(account_id, slot, 64)


def sas_key(namespace_id: str, rule: str = SAS_RULE, slot: str = "primaryKey") -> str:
    return base64_key(f"{namespace_id}/authorizationRules/{rule}", slot, 32)


def short_key(resource_id: str, slot: str = "primaryKey") -> str:
    """Redis, SignalR and Web PubSub access keys (32 bytes, base64)."""
    return base64_key(resource_id, slot, 32)


def app_configuration_key(store_id: str, slot: str = "Primary") -> tuple[str, str]:
    """(Id, Secret) of an App Configuration access key; the connection string is `Endpoint=…;Id=…;Secret=…`."""
    digest = hashlib.sha256(f"{store_id.lower()}|{slot}".encode()).hexdigest()
    return f"{digest[:4]}-l0-s0:{digest[4:24]}", base64_key(store_id, slot, 32)
