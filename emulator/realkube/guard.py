"""AKS's "guard" webhooks for a real API server: TokenReview (Entra ID tokens) and SubjectAccessReview (Azure RBAC).

An AKS-managed Entra ID cluster's kube-apiserver sends each bearer token to guard in a TokenReview and, with Azure
RBAC for Kubernetes, asks guard in a SubjectAccessReview whether the principal's Azure role assignments grant the
request's data action (docs/FACTS.md). Here the local cloud answers both, from the same token service and the same
role assignments the emulated API server checks, so a principal is allowed or refused alike on either backend.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from emulator.http import Principal, Request, Response
from emulator.identity import AKS_AUDIENCE, TokenService
from emulator.kube.api import data_action

Authorizer = Callable[[Principal, str, str], bool]
Recorder = Callable[[dict], None]  # the local cloud's request log
METHODS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT", "patch": "PATCH"}
# Kubernetes verbs -> the operation at the end of an Azure RBAC data action; any other verb (impersonate, bind,
# escalate, approve, use) is `VERB/action`.
OPERATIONS = {
    "get": "read",
    "list": "read",
    "watch": "read",
    "create": "write",
    "update": "write",
    "patch": "write",
    "delete": "delete",
    "deletecollection": "delete",
}


class Guard:
    """One cluster's two webhook endpoints; the API server proves itself with a bearer secret of its own."""

    def __init__(
        self, tokens: TokenService, authorize: Authorizer, record: Recorder, cluster_id: str, key: str, secret: str
    ):
        self._tokens = tokens
        self._authorize = authorize
        self._record = record
        self._cluster_id = cluster_id
        self._key = key
        self._secret = secret

    def handle(self, request: Request, endpoint: str) -> Response:
        presented = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        if request.method != "POST" or not hmac.compare_digest(presented, self._secret):
            return Response(401, {"kind": "Status", "status": "Failure", "reason": "Unauthorized", "code": 401})
        review = request.json() or {}
        if endpoint == "audit":
            for event in review.get("items") or []:
                self._record(self.request_entry(event))
            return Response(200, {})
        if endpoint == "authenticate":
            review["status"] = self.authenticate(review.get("spec") or {})
        elif endpoint == "authorize":
            review["status"] = self.authorize(review.get("spec") or {})
        else:
            return Response(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
        return Response(200, review)

    def authenticate(self, spec: dict) -> dict:
        """TokenReview: an unexpired token the local cloud issued for the AKS server application."""
        verified = self._tokens.verify(f"Bearer {spec.get('token', '')}")
        if verified is None or verified[1].get("aud", "").rstrip("/") != AKS_AUDIENCE:
            return {"authenticated": False, "error": "invalid or expired Entra ID token for AKS"}
        principal = verified[0].principal
        return {
            "authenticated": True,
            "user": {
                "username": principal.object_id,
                "uid": principal.object_id,
                "groups": [],
                "extra": {"oid": [principal.object_id]},
            },
        }

    def authorize(self, spec: dict) -> dict:
        """SubjectAccessReview: allowed if a role assignment grants the data action; otherwise no opinion, so the
        API server's answer is its own 403 (Kubernetes RBAC was asked first)."""
        identity = self._tokens.identities.get(spec.get("uid") or spec.get("user") or "")
        attributes = spec.get("resourceAttributes")
        if identity is None or attributes is None:
            return {"allowed": False}
        verb = attributes.get("verb", "")
        # a subresource (status, scale) is checked as its resource, as the emulated API server does
        action = data_action(
            attributes.get("group", ""), attributes.get("resource", ""), OPERATIONS.get(verb, f"{verb}/action")
        )
        scope = self._cluster_id
        if attributes.get("namespace"):
            scope = f"{scope}/namespaces/{attributes['namespace']}"
        if self._authorize(identity.principal, action, scope):
            return {"allowed": True, "reason": f"Azure RBAC grants {action}"}
        return {"allowed": False}

    def request_entry(self, event: dict) -> dict:
        """An audit event (a client's request, answered) as the local cloud's request log records the emulated API's."""
        method = METHODS.get(event.get("verb", ""), "DELETE" if "delete" in event.get("verb", "") else "GET")
        username = (event.get("user") or {}).get("username", "")
        identity = self._tokens.identities.get(username)
        received = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00"))
        completed = datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00"))
        return {
            "time": received.isoformat(),
            "service": "kube",
            "method": method,
            "path": f"/clusters/{self._key}{urlsplit(event.get('requestURI', '')).path}",
            "operation": {"GET": "read", "DELETE": "delete"}.get(method, "write"),
            "principal": identity.principal.name if identity else username or None,
            "status": (event.get("responseStatus") or {}).get("code", 0),
            "elapsed_ms": round((completed - received).total_seconds() * 1000, 3),
            "real_kube": True,
        }
