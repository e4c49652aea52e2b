"""Key Vault secrets data plane, reached at its real host names through the emulator's CONNECT proxy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from emulator.arm.store import ArmStore
from emulator.http import HttpError, Request, Response
from emulator.identity import VAULT_AUDIENCE, TokenService

VAULT_SUFFIX = ".vault.azure.net"


@dataclass(kw_only=True, eq=False)
class KeyVaultService:
    """Secrets of the vaults ARM knows (`Microsoft.KeyVault/vaults`), authorised by the caller's data actions."""

    store: ArmStore
    tokens: TokenService
    tenant_id: str
    secrets: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict, init=False)

    def set_secret(self, vault: str, name: str, value: str) -> str:
        version = uuid.uuid4().hex
        self.secrets.setdefault(vault.lower(), {}).setdefault(name.lower(), []).append((version, value))
        return version

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

    def handle(self, request: Request, vault: str) -> Response:
        vault_id = self._vault_id(vault)
        if vault_id is None:
            return Response(404, {"error": {"code": "VaultNotFound", "message": f"Vault '{vault}' not found."}})
        parts = [p for p in request.path.split("/") if p]
        if request.method != "GET" or len(parts) not in (2, 3) or parts[0] != "secrets":
            return Response(
                400, {"error": {"code": "BadParameter", "message": "Only GET /secrets/{name}[/{version}]."}}
            )
        action = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
        identity = self.tokens.identities.get(request.principal.object_id)
        if not identity.allowed(action, vault_id, data=True):
            raise HttpError(
                Response(
                    403,
                    {
                        "error": {
                            "code": "Forbidden",
                            "message": f"Caller is not authorized to perform action on resource.\r\n"
                            f"Caller: appid={request.principal.client_id};oid={request.principal.object_id}\r\n"
                            f"Action: '{action}'\r\nResource: '{vault_id.lower()}/secrets/{parts[1].lower()}'",
                            "innererror": {"code": "ForbiddenByRbac"},
                        }
                    },
                )
            )
        versions = self.secrets.get(vault.lower(), {}).get(parts[1].lower(), [])
        if len(parts) == 3:
            versions = [v for v in versions if v[0] == parts[2]]
        if not versions:
            return Response(
                404,
                {
                    "error": {
                        "code": "SecretNotFound",
                        "message": f"A secret with (name/id) {parts[1]} was not found in this key vault.",
                    }
                },
            )
        version, value = versions[-1]
        return Response(
            200,
            {
                "value": value,
                "id": f"https://{vault}{VAULT_SUFFIX}/secrets/{parts[1]}/{version}",
                "attributes": {"enabled": True, "recoveryLevel": "Recoverable+Purgeable"},
            },
        )

    def _vault_id(self, vault: str) -> str | None:
        for resource in self._vaults():
            if resource["name"].lower() == vault.lower():
                return resource["id"]
        return None

    def _vaults(self) -> list[dict]:
        found = []
        for subscription in self.store.subscriptions.values():
            found += self.store.of_type_under(f"/subscriptions/{subscription.id}", "Microsoft.KeyVault/vaults")
        return found
