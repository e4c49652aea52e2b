"""`/_emulator/*`: inspection and control for tests and the demo (no token; the listener is loopback-only)."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.arm.store import ArmStore
from emulator.clusters import Clusters
from emulator.events import EventLog, Webhook
from emulator.faults import Faults
from emulator.http import Request, Response
from emulator.identity import TokenService
from emulator.keyvault import KeyVaultService
from emulator.kube.controllers import RolloutMode
from emulator.kube.resources import BY_KIND
from emulator.requestlog import RequestLog
from emulator.throttle import TokenBuckets


@dataclass(kw_only=True, eq=False)
class AdminApi:
    """The admin routes, over the stores and logs of the services they inspect and control."""

    tenant_id: str
    store: ArmStore
    clusters: Clusters
    requests: RequestLog
    events: EventLog
    faults: Faults
    throttle: TokenBuckets
    tokens: TokenService
    vaults: KeyVaultService

    def handle(self, request: Request) -> Response:
        route = (request.method, request.path.removeprefix("/_emulator").rstrip("/"))
        handler = {
            ("GET", "/state"): self._state,
            ("GET", "/requests"): self._list_requests,
            ("GET", "/events"): self._list_events,
            ("GET", "/faults"): lambda r: Response(200, {"faults": self.faults.listing()}),
            ("POST", "/faults"): self._add_fault,
            ("DELETE", "/faults"): self._clear_faults,
            ("POST", "/latency"): self._latency,
            ("POST", "/throttling"): self._throttling,
            ("POST", "/token"): self._token,
            ("POST", "/webhooks"): self._webhook,
            ("POST", "/provisioning-state"): self._provisioning_state,
            ("POST", "/rollouts"): self._rollouts,
            ("POST", "/keyvault/expiry"): self._expiry_events,
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
                "tenant_id": self.tenant_id,
                "subscriptions": {
                    s.id: {"providers": {s.provider_names.get(k, k): v for k, v in s.providers.items()}}
                    for s in self.store.subscriptions.values()
                },
                "resources": self.store.snapshot(),
                "clusters": {
                    runtime.cluster_id: {"key": runtime.key, "objects": runtime.store.snapshot()}
                    for runtime in self.clusters.all()
                },
            },
        )

    def _list_requests(self, request: Request) -> Response:
        since = int(request.query.get("since", 0))
        entries, total = self.requests.since(since)
        return Response(200, {"requests": entries, "next": total})

    def _list_events(self, request: Request) -> Response:
        schema = request.query.get("schema", "eventgrid")
        if schema not in ("eventgrid", "cloudevents"):
            raise ValueError("schema must be eventgrid or cloudevents")
        return Response(200, {"events": self.events.listing(schema, int(request.query.get("since", 0)))})

    def _add_fault(self, request: Request) -> Response:
        specs = request.json()
        for spec in specs if isinstance(specs, list) else [specs]:
            self.faults.add(spec)
        return Response(200, {"faults": self.faults.listing()})

    def _clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response(200, {"faults": []})

    def _latency(self, request: Request) -> Response:
        body = request.json() or {}
        self.faults.latency_ms.update({k.removesuffix("_ms"): int(v) for k, v in body.items()})
        return Response(200, {"latency_ms": self.faults.latency_ms})

    def _throttling(self, request: Request) -> Response:
        body = request.json() or {}
        self.throttle.enabled = bool(body.get("enabled", True))
        if body.get("reset"):
            self.throttle.reset()
        return Response(200, {"enabled": self.throttle.enabled})

    def _token(self, request: Request) -> Response:
        """A token for any scenario principal: lets tests act as a user or as a principal lacking rights."""
        body = request.json() or {}
        identity = self.tokens.by_name(body["principal"])
        token, expires_on = self.tokens.issue(identity.principal, body.get("resource", "https://management.azure.com"))
        return Response(
            200, {"access_token": token, "expires_on": expires_on, "object_id": identity.principal.object_id}
        )

    def _webhook(self, request: Request) -> Response:
        body = request.json() or {}
        self.events.webhooks.append(Webhook(**body))
        return Response(200, {"webhooks": [hook.to_dict() for hook in self.events.webhooks]})

    def _provisioning_state(self, request: Request) -> Response:
        """Flip a resource's provisioningState, as AKS does during its own operations (no event)."""
        body = request.json() or {}
        resource = self.store.get(body["id"])
        if resource is None:
            return Response(404, {"error": {"code": "ResourceNotFound", "message": body["id"]}})
        resource["properties"]["provisioningState"] = body["state"]
        return Response(200, resource)

    def _rollouts(self, request: Request) -> Response:
        """`{cluster, kind, namespace, name, mode: hold|complete}`: hold a workload's rollouts (its new pods never
        become ready; a Deployment then passes its progress deadline) or let them, and the held one, complete."""
        body = request.json() or {}
        store = self.clusters.runtime(body["cluster"]).store
        plural = BY_KIND[body["kind"]].plural
        return Response(200, store.set_rollout_mode(plural, body.get("namespace", "default"), body["name"],
                                                    RolloutMode(body["mode"])))  # fmt: skip

    def _expiry_events(self, request: Request) -> Response:
        """Key Vault's own clock, run now (or at `{now}` unix seconds): SecretNearExpiry / SecretExpired for the
        current versions that reached those points and were not announced yet."""
        body = request.json() or {}
        return Response(200, {"events": self.vaults.raise_expiry_events(body.get("now"))})
