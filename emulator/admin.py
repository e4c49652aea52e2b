"""`/_emulator/*`: inspection and control for tests and the demo (no token; the listener is loopback-only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emulator.http import Request, Response

if TYPE_CHECKING:
    from emulator.cloud import Cloud


class AdminApi:
    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def handle(self, request: Request) -> Response:
        route = (request.method, request.path.removeprefix("/_emulator").rstrip("/"))
        handler = {
            ("GET", "/state"): self._state,
            ("GET", "/requests"): self._requests,
            ("GET", "/events"): self._events,
            ("GET", "/faults"): lambda r: Response(200, {"faults": self.cloud.faults.listing()}),
            ("POST", "/faults"): self._add_fault,
            ("DELETE", "/faults"): self._clear_faults,
            ("POST", "/latency"): self._latency,
            ("POST", "/throttling"): self._throttling,
            ("POST", "/token"): self._token,
            ("POST", "/webhooks"): self._webhook,
            ("POST", "/provisioning-state"): self._provisioning_state,
        }.get(route)
        if handler is None:
            return Response(404, {"error": {"code": "NotFound", "message": f"No admin route {route}."}})
        try:
            return handler(request)
        except (KeyError, TypeError, ValueError) as error:
            return Response(400, {"error": {"code": "BadRequest", "message": str(error)}})

    def _state(self, request: Request) -> Response:
        return Response(
            200,
            {
                "tenant_id": self.cloud.tenant_id,
                "subscriptions": {
                    s.id: {"providers": {s.provider_names.get(k, k): v for k, v in s.providers.items()}}
                    for s in self.cloud.arm.subscriptions.values()
                },
                "resources": self.cloud.arm.snapshot(),
                "clusters": {
                    runtime.cluster_id: {"key": runtime.key, "objects": runtime.store.snapshot()}
                    for runtime in list(self.cloud.clusters.values())
                },
            },
        )

    def _requests(self, request: Request) -> Response:
        since = int(request.query.get("since", 0))
        with self.cloud._requests_lock:
            entries = list(self.cloud.requests[since:])
            total = len(self.cloud.requests)
        return Response(200, {"requests": entries, "next": total})

    def _events(self, request: Request) -> Response:
        schema = request.query.get("schema", "eventgrid")
        if schema not in ("eventgrid", "cloudevents"):
            raise ValueError("schema must be eventgrid or cloudevents")
        return Response(200, {"events": self.cloud.events.listing(schema, int(request.query.get("since", 0)))})

    def _add_fault(self, request: Request) -> Response:
        specs = request.json()
        for spec in specs if isinstance(specs, list) else [specs]:
            self.cloud.faults.add(spec)
        return Response(200, {"faults": self.cloud.faults.listing()})

    def _clear_faults(self, request: Request) -> Response:
        self.cloud.faults.clear()
        return Response(200, {"faults": []})

    def _latency(self, request: Request) -> Response:
        body = request.json() or {}
        self.cloud.faults.latency_ms.update({k.removesuffix("_ms"): int(v) for k, v in body.items()})
        return Response(200, {"latency_ms": self.cloud.faults.latency_ms})

    def _throttling(self, request: Request) -> Response:
        body = request.json() or {}
        self.cloud.throttle.enabled = bool(body.get("enabled", True))
        if body.get("reset"):
            self.cloud.throttle.reset()
        return Response(200, {"enabled": self.cloud.throttle.enabled})

    def _token(self, request: Request) -> Response:
        """A token for any scenario principal: lets tests act as a user or as a principal lacking rights."""
        body = request.json() or {}
        identity = self.cloud.tokens.by_name(body["principal"])
        token, expires_on = self.cloud.tokens.issue(
            identity.principal, body.get("resource", "https://management.azure.com")
        )
        return Response(
            200, {"access_token": token, "expires_on": expires_on, "object_id": identity.principal.object_id}
        )

    def _webhook(self, request: Request) -> Response:
        body = request.json() or {}
        self.cloud.events.webhooks.append((body["url"], body.get("schema", "eventgrid")))
        return Response(200, {"webhooks": self.cloud.events.webhooks})

    def _provisioning_state(self, request: Request) -> Response:
        """Flip a resource's provisioningState, as AKS does during its own operations (no event)."""
        body = request.json() or {}
        resource = self.cloud.arm.get(body["id"])
        if resource is None:
            return Response(404, {"error": {"code": "ResourceNotFound", "message": body["id"]}})
        resource["properties"]["provisioningState"] = body["state"]
        return Response(200, resource)
