"""Key Vault secrets data plane, reached at its real host names through the emulator's CONNECT proxy.

Versions, attributes and tags follow the Key Vault REST API (Set/Get/Update Secret, Get Secrets, Get Secret
Versions); a new version raises `Microsoft.KeyVault.SecretNewVersionCreated` on the vault's system topic
(FACTS.md section 10; azure-rest-api-specs eventgrid data-plane Microsoft.KeyVault examples).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from emulator.arm.store import ArmStore
from emulator.events import EventLog
from emulator.http import HttpError, Request, Response
from emulator.identity import VAULT_AUDIENCE, Identity, TokenService

VAULT_SUFFIX = ".vault.azure.net"
NEW_VERSION_EVENT = "Microsoft.KeyVault.SecretNewVersionCreated"
NEAR_EXPIRY_EVENT = "Microsoft.KeyVault.SecretNearExpiry"
EXPIRED_EVENT = "Microsoft.KeyVault.SecretExpired"
NEAR_EXPIRY_SECONDS = 30 * 24 * 3600  # Key Vault raises SecretNearExpiry 30 days before the current version's exp
SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")


class DataAction(StrEnum):
    """Key Vault's RBAC data actions on secrets (what the Key Vault Secrets User / Officer roles grant)."""

    GET_VALUE = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
    SET = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
    READ_METADATA = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
    UPDATE = "Microsoft.KeyVault/vaults/secrets/update/action"


@dataclass
class SecretVersion:
    name: str  # as first written
    version: str
    value: str
    created: int  # unix seconds, as Key Vault's attributes carry them
    updated: int
    enabled: bool = True
    not_before: int | None = None
    expires: int | None = None
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def attributes(self) -> dict:
        attributes = {"enabled": self.enabled, "created": self.created, "updated": self.updated}
        if self.not_before is not None:
            attributes["nbf"] = self.not_before
        if self.expires is not None:
            attributes["exp"] = self.expires
        return {**attributes, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}


@dataclass(kw_only=True, eq=False)
class KeyVaultService:
    """Secrets of the vaults ARM knows (`Microsoft.KeyVault/vaults`), authorised by the caller's data actions."""

    store: ArmStore
    tokens: TokenService
    events: EventLog
    tenant_id: str
    _secrets: dict[str, dict[str, list[SecretVersion]]] = field(default_factory=dict, init=False)  # vault -> name
    _announced: set[tuple[str, str]] = field(default_factory=set, init=False)  # (version, event type) raised

    # -- writes ------------------------------------------------------------------------------------------
    def seed(self, vault: str, name: str, value: str, tags: dict[str, str] | None = None) -> SecretVersion:
        """A secret that exists before the scenario starts: stored without an event, like the rest of the estate."""
        return self._add_version(vault, name, {"value": value, "tags": tags or {}})

    def _add_version(self, vault: str, name: str, body: dict) -> SecretVersion:
        now = int(time.time())
        attributes = body.get("attributes") or {}
        earlier = self._versions(vault, name)
        secret = SecretVersion(
            name=earlier[0].name if earlier else name,
            version=uuid.uuid4().hex,
            value=str(body["value"]),
            created=now,
            updated=now,
            enabled=bool(attributes.get("enabled", True)),
            not_before=attributes.get("nbf"),
            expires=attributes.get("exp"),
            content_type=body.get("contentType"),
            tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
        )
        self._secrets.setdefault(vault.lower(), {}).setdefault(name.lower(), []).append(secret)
        return secret

    def _versions(self, vault: str, name: str) -> list[SecretVersion]:
        return self._secrets.get(vault.lower(), {}).get(name.lower(), [])

    # -- the data plane ----------------------------------------------------------------------------------
    def challenge(self) -> Response:
        """The 401 the SDK's challenge policy expects before it asks for a token."""
        header = (
            f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", resource="{VAULT_AUDIENCE}"'
        )
        return Response(
            401,
            {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}},
            {"WWW-Authenticate": header},
        )

    def handle(self, request: Request, vault_host: str) -> Response:
        vault = self._vault(vault_host)
        if vault is None:
            return Response(404, {"error": {"code": "VaultNotFound", "message": f"Vault '{vault_host}' not found."}})
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != "secrets" or len(parts) > 3:
            raise _bad_parameter("Only /secrets, /secrets/{name}, /secrets/{name}/versions, /secrets/{name}/{version}.")
        identity = self.tokens.identities[request.principal.object_id]
        name = parts[1] if len(parts) > 1 else None
        version = parts[2] if len(parts) > 2 else ""
        if request.method == "GET" and name is None:
            self._authorize(identity, DataAction.READ_METADATA, vault, "")
            latest = [self._item(vault, versions[-1]) for versions in self._in(vault).values()]
            return Response(200, {"value": latest, "nextLink": None})
        if name is None:
            raise _bad_parameter(f"Method {request.method} is not allowed on /secrets.")
        if request.method == "GET" and version == "versions":
            self._authorize(identity, DataAction.READ_METADATA, vault, name)
            versions = self._versions(vault["name"], name)
            return Response(200, {"value": [self._item(vault, v, versioned=True) for v in versions], "nextLink": None})
        if request.method == "GET":
            self._authorize(identity, DataAction.GET_VALUE, vault, name)
            secret = self._find(vault, name, version)
            if not secret.enabled:
                raise HttpError(
                    Response(
                        403,
                        {
                            "error": {
                                "code": "Forbidden",
                                "message": "Operation get is not allowed on a disabled secret.",
                                "innererror": {"code": "SecretDisabled"},
                            }
                        },
                    )
                )
            return Response(200, self._bundle(vault, secret, with_value=True))
        if request.method == "PUT" and not version:
            self._authorize(identity, DataAction.SET, vault, name)
            return Response(200, self._bundle(vault, self._set(vault, name, request.json() or {}), with_value=True))
        if request.method == "PATCH":
            self._authorize(identity, DataAction.UPDATE, vault, name)
            return Response(200, self._bundle(vault, self._update(vault, name, version, request.json() or {})))
        raise _bad_parameter(f"Method {request.method} is not supported on secrets by the local cloud.")

    def _set(self, vault: dict, name: str, body: dict) -> SecretVersion:
        if not SECRET_NAME.match(name):
            raise _bad_parameter(
                "The request URI contains an invalid name: " + name + ". Secret names may contain only "
                "alphanumeric characters and dashes."
            )
        if not isinstance(body.get("value"), str):
            raise _bad_parameter("Property value is required.")
        secret = self._add_version(vault["name"], name, body)
        self.events.publish(self._event(NEW_VERSION_EVENT, vault, secret))
        return secret

    def raise_expiry_events(self, now: float | None = None) -> list[dict]:
        """Key Vault's clock: each secret's current version (the newest enabled one) raises SecretNearExpiry 30
        days before its `exp` and SecretExpired at it, once each (the emulator runs this when the admin asks)."""
        now = time.time() if now is None else now
        raised = []
        for vault_name, secrets in self._secrets.items():
            vault = self._vault(vault_name)
            for versions in secrets.values():
                current = next((v for v in reversed(versions) if v.enabled), None)
                if vault is None or current is None or current.expires is None:
                    continue
                due = EXPIRED_EVENT if now >= current.expires else None
                if due is None and now >= current.expires - NEAR_EXPIRY_SECONDS:
                    due = NEAR_EXPIRY_EVENT
                if due is not None and (current.version, due) not in self._announced:
                    self._announced.add((current.version, due))
                    raised.append(self.events.publish(self._event(due, vault, current)))
        return raised

    def _update(self, vault: dict, name: str, version: str, body: dict) -> SecretVersion:
        secret = self._find(vault, name, version)
        attributes = body.get("attributes") or {}
        if "enabled" in attributes:
            secret.enabled = bool(attributes["enabled"])
        if "nbf" in attributes:
            secret.not_before = attributes["nbf"]
        if "exp" in attributes:
            secret.expires = attributes["exp"]
        if "contentType" in body:
            secret.content_type = body["contentType"]
        if body.get("tags") is not None:
            secret.tags = {str(k): str(v) for k, v in body["tags"].items()}
        secret.updated = int(time.time())
        return secret

    def _find(self, vault: dict, name: str, version: str) -> SecretVersion:
        versions = self._versions(vault["name"], name)
        if version:
            versions = [v for v in versions if v.version == version]
        if not versions:
            spelled = f"{name}/{version}" if version else name
            raise HttpError(
                Response(
                    404,
                    {
                        "error": {
                            "code": "SecretNotFound",
                            "message": f"A secret with (name/id) {spelled} was not found in this key vault. "
                            "If you recently deleted this secret you may be able to recover it using the correct "
                            "recovery command. For help resolving this issue, please see "
                            "https://go.microsoft.com/fwlink/?linkid=2125182",
                        }
                    },
                )
            )
        return versions[-1]

    def _authorize(self, identity: Identity, action: DataAction, vault: dict, name: str) -> None:
        if identity.allowed(action, vault["id"], data=True):
            return
        principal = identity.principal
        resource = f"{vault['id'].lower()}/secrets/{name.lower()}" if name else vault["id"].lower()
        raise HttpError(
            Response(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Caller is not authorized to perform action on resource.\r\n"
                        f"If role assignments, deny assignments or role definitions were changed recently, please "
                        f"observe propagation time.\r\nCaller: appid={principal.client_id};oid={principal.object_id}"
                        f"\r\nAction: '{action.value}'\r\nResource: '{resource}'",
                        "innererror": {"code": "ForbiddenByRbac"},
                    }
                },
            )
        )

    # -- shapes ------------------------------------------------------------------------------------------
    def _url(self, vault: dict, secret: SecretVersion, versioned: bool = True) -> str:
        base = f"https://{vault['name']}{VAULT_SUFFIX}/secrets/{secret.name}"
        return f"{base}/{secret.version}" if versioned else base

    def _bundle(self, vault: dict, secret: SecretVersion, with_value: bool = False) -> dict:
        """A SecretBundle: GET and PUT return the value, an update does not."""
        bundle = {"value": secret.value} if with_value else {}
        return {**bundle, **self._item(vault, secret, versioned=True)}

    def _item(self, vault: dict, secret: SecretVersion, versioned: bool = False) -> dict:
        """A SecretItem in a listing: no value; the latest listing's ids carry no version."""
        item = {"id": self._url(vault, secret, versioned), "attributes": secret.attributes()}
        if secret.tags:  # Key Vault leaves `tags` out when there are none
            item["tags"] = dict(secret.tags)
        if secret.content_type is not None:
            item["contentType"] = secret.content_type
        return item

    def _event(self, event_type: str, vault: dict, secret: SecretVersion) -> dict:
        """What the vault's system topic carries for a secret version (the recorded sample's data keys)."""
        return {
            "id": str(uuid.uuid4()),
            "topic": vault["id"],
            "subject": secret.name,
            "eventType": event_type,
            "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "data": {
                "Id": self._url(vault, secret),
                "VaultName": vault["name"],
                "ObjectType": "Secret",
                "ObjectName": secret.name,
                "Version": secret.version,
                "NBF": secret.not_before,
                "EXP": secret.expires,
            },
            "dataVersion": "1",
            "metadataVersion": "1",
        }

    # -- vaults ------------------------------------------------------------------------------------------
    def _in(self, vault: dict) -> dict[str, list[SecretVersion]]:
        return self._secrets.get(vault["name"].lower(), {})

    def _vault(self, name: str) -> dict | None:
        for subscription in self.store.subscriptions.values():
            for resource in self.store.of_type_under(f"/subscriptions/{subscription.id}", "Microsoft.KeyVault/vaults"):
                if resource["name"].lower() == name.lower():
                    return resource
        return None


def _bad_parameter(message: str) -> HttpError:
    return HttpError(Response(400, {"error": {"code": "BadParameter", "message": message}}))
