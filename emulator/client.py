"""A client for the local cloud's admin API (`/_emulator/*`), for tests and the demo.

`PersonCredential` lets a scenario principal (a person on the platform team) act through the real SDKs.
"""

from __future__ import annotations

import requests
from azure.core.credentials import AccessToken


class AdminClient:
    def __init__(self, arm_endpoint: str, ca_bundle: str):
        self.arm_endpoint = arm_endpoint
        self.session = requests.Session()
        self.session.verify = ca_bundle
        self.session.trust_env = False  # loopback: never through a proxy

    def _url(self, path: str) -> str:
        return f"{self.arm_endpoint}/_emulator/{path}"

    def get(self, path: str, **params: object) -> dict:
        response = self.session.get(self._url(path), params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: object) -> dict:
        response = self.session.post(self._url(path), json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict:
        return self.get("state")

    def mark(self) -> int:
        """The request log's next sequence number: requests_since(mark) is what happened after now."""
        return self.get("requests", since=10**9)["next"]

    def requests_since(self, seq: int) -> list[dict]:
        return self.get("requests", since=seq)["requests"]

    def token(self, principal: str, resource: str = "https://management.azure.com") -> str:
        return self.post("token", {"principal": principal, "resource": resource})["access_token"]

    def cluster_objects(self, cluster_id: str) -> dict:
        clusters = {k.lower(): v for k, v in self.state()["clusters"].items()}
        return clusters[cluster_id.lower()]["objects"]


class PersonCredential:
    """A TokenCredential for a scenario principal, minted by the local cloud."""

    def __init__(self, admin: AdminClient, principal: str):
        self.admin = admin
        self.principal = principal

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        body = self.admin.post("token", {"principal": self.principal, "resource": scopes[0].removesuffix("/.default")})
        return AccessToken(body["access_token"], int(body["expires_on"]))
