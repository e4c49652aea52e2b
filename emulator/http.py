"""Transport-neutral request/response types shared by every emulated service."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Principal:
    """An Entra ID principal as the emulator's token service knows it."""

    name: str
    object_id: str
    client_id: str
    tenant_id: str
    kind: str = "User"  # ARM systemData's createdByType: User | Application (managed identities, apps)


@dataclass
class Request:
    method: str
    path: str  # percent-decoded path, no query string
    query: dict[str, str]  # first value of each query parameter
    headers: dict[str, str]  # keys lower-cased
    body: bytes = b""
    principal: Principal | None = None
    audience: str | None = None  # the audience of the bearer token, once authenticated
    claims: dict | None = None  # the bearer token's claims, once authenticated

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str -> sent as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class HttpError(Exception):
    """Raised by handlers to answer with an error response."""

    def __init__(self, response: Response):
        super().__init__(f"HTTP {response.status}")
        self.response = response
