"""Entra ID as the emulator needs it: principals, bearer tokens, role-like rights.

Tokens are JWT-shaped (HS256 with a key minted at start) so clients treat them like real
access tokens; only the emulator ever reads them.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field

from emulator.conditions import Condition
from emulator.http import Principal

ARM_AUDIENCE = "https://management.azure.com"
AKS_AUDIENCE = "6dae42f8-4368-4678-94ff-3960e28e3630"
VAULT_AUDIENCE = "https://vault.azure.net"
STORAGE_AUDIENCE = "https://storage.azure.com"
KNOWN_AUDIENCES = (ARM_AUDIENCE, AKS_AUDIENCE, VAULT_AUDIENCE, STORAGE_AUDIENCE)
TOKEN_LIFETIME_SECONDS = 3600


@dataclass
class Grant:
    """A role assignment flattened to what RBAC evaluates: actions (control plane) and data actions at a scope."""

    scope: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    condition: Condition | None = None  # ABAC on role-assignment writes/deletes (the delegation pattern)

    def covers(self, resource_id: str) -> bool:
        scope = self.scope.rstrip("/").lower()
        target = resource_id.rstrip("/").lower()
        return scope in ("", "/") or target == scope or target.startswith(scope + "/")


@dataclass
class Identity:
    principal: Principal
    grants: list[Grant] = field(default_factory=list)

    def allowed(
        self, action: str, resource_id: str, *, data: bool = False, attributes: dict[str, str] | None = None
    ) -> bool:
        """`attributes`: what a grant's condition tests (a role assignment's RoleDefinitionId and PrincipalType)."""
        for grant in self.grants:
            if not grant.covers(resource_id):
                continue
            patterns = grant.data_actions if data else grant.actions
            granted = _matches(action, patterns) and not (not data and _matches(action, grant.not_actions))
            if granted and (grant.condition is None or grant.condition.admits(action, attributes)):
                return True
        return False


def _matches(action: str, patterns: tuple[str, ...]) -> bool:
    lowered = action.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


def principal_ids(name: str, tenant_id: str, kind: str = "User") -> Principal:
    """Stable ids derived from a name, so scenario files need not spell out GUIDs."""
    return Principal(
        name=name,
        object_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"object:{name}")),
        client_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"client:{name}")),
        tenant_id=tenant_id,
        kind=kind,
    )


class TokenService:
    """Mints and checks bearer tokens for the scenario's principals."""

    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        self._key = secrets.token_bytes(32)
        self.identities: dict[str, Identity] = {}  # by object id

    def add(self, identity: Identity) -> None:
        self.identities[identity.principal.object_id] = identity

    def by_name(self, name: str) -> Identity:
        for identity in self.identities.values():
            if identity.principal.name == name:
                return identity
        raise KeyError(f"no principal named {name!r} in the scenario")

    def claims(self, principal: Principal, audience: str) -> dict:
        """The claims of an Entra access token (v1), as ARM copies them into Event Grid's `data.claims`."""
        now = int(time.time())
        return {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now - 300,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "appid": principal.client_id,
            "appidacr": "2" if principal.kind == "Application" else "0",
            "oid": principal.object_id,
            "tid": self.tenant_id,
            "name": principal.name,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }

    def issue(self, principal: Principal, audience: str) -> tuple[str, int]:
        claims = self.claims(principal, audience)
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        return f"{header}.{body}.{signature}", claims["exp"]

    def managed_identity_token(self, query: dict[str, str], default: Identity) -> tuple[int, dict]:
        """The App Service / Functions managed identity protocol: (status, body) for the sidecar to send."""
        resource = (query.get("resource") or "").removesuffix("/.default")
        if not resource:
            return 400, {"statusCode": 400, "message": "The 'resource' query parameter is required."}
        identity = default
        wanted = query.get("client_id") or query.get("object_id") or query.get("principal_id")  # as msal sends it
        if wanted:
            matches = [
                i for i in self.identities.values()
                if wanted.lower() in (i.principal.client_id.lower(), i.principal.object_id.lower())
            ]  # fmt: skip
            if not matches:
                return 400, {"statusCode": 400, "message": f"No managed identity with id '{wanted}' is assigned."}
            identity = matches[0]
        token, expires_on = self.issue(identity.principal, resource.rstrip("/"))
        return 200, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.principal.client_id,
        }

    def verify(self, authorization: str | None) -> tuple[Identity, dict] | None:
        """(identity, the token's claims) for a valid `Bearer` header, else None."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        try:
            header, body, signature = token.split(".")
        except ValueError:
            return None
        expected = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(signature, expected):
            return None
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        identity = self.identities.get(claims.get("oid"))
        if identity is None or claims.get("exp", 0) < time.time():
            return None
        return identity, claims


def audience_of(resource: str) -> str:
    """Normalise a `resource`/scope the way Entra does (trailing `/` and `/.default` dropped)."""
    resource = resource.removesuffix("/.default").rstrip("/")
    return resource


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
