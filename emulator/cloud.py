"""The local cloud: every emulated service's state and the HTTPS front door that routes to them."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from emulator.admin import AdminApi
from emulator.arm import resourcegraph, tenancy
from emulator.arm.errors import arm_error
from emulator.arm.notify import ResourceEvents
from emulator.arm.operations import Operations
from emulator.arm.service import ArmService
from emulator.arm.servicelinker import ServiceLinker
from emulator.arm.store import ArmStore
from emulator.clusters import Clusters, KubeBackend
from emulator.events import EventLog
from emulator.faults import Faults
from emulator.http import HttpError, Request, Response
from emulator.identity import AKS_AUDIENCE, ARM_AUDIENCE, VAULT_AUDIENCE, TokenService
from emulator.keyvault import VAULT_SUFFIX, KeyVaultService
from emulator.kube.errors import status_body
from emulator.requestlog import RequestLog
from emulator.site import Site
from emulator.throttle import TokenBuckets

ARM_AUDIENCES = {ARM_AUDIENCE, "https://management.core.windows.net"}
OPERATION_KIND = {"GET": "read", "HEAD": "read", "DELETE": "delete"}  # everything else is a write


class Cloud:
    """The composition root: builds each service from the collaborators it needs, and routes requests to them."""

    def __init__(
        self,
        tenant_id: str,
        lro_polls: int = 1,
        lro_retry_after: float = 0,
        cluster_provisioning_seconds: float = 0,
        provider_registration_seconds: float = 0,
        kube_backend: KubeBackend = KubeBackend.EMULATED,
    ):
        self.tenant_id = tenant_id
        self.site = Site()
        self.arm = ArmStore()
        self.tokens = TokenService(tenant_id)
        self.events = EventLog()
        self.faults = Faults()
        self.throttle = TokenBuckets()
        self.graph_quota = resourcegraph.UserQuota()
        self.requests = RequestLog()
        self.clusters = Clusters(self.tokens, self.site, self.requests.append, kube_backend)
        self.operations = operations = Operations(lro_polls, lro_retry_after)
        resource_events = ResourceEvents(self.events, self.tokens)
        linkers = ServiceLinker(
            store=self.arm,
            operations=operations,
            events=resource_events,
            faults=self.faults,
            clusters=self.clusters,
            tenant_id=tenant_id,
            site=self.site,
        )
        self.arm_service = ArmService(
            store=self.arm,
            operations=operations,
            linkers=linkers,
            events=resource_events,
            clusters=self.clusters,
            tenant_id=tenant_id,
            site=self.site,
            cluster_provisioning_seconds=cluster_provisioning_seconds,
            provider_registration_seconds=provider_registration_seconds,
        )
        self.keyvault = KeyVaultService(store=self.arm, tokens=self.tokens, events=self.events, tenant_id=tenant_id)
        self.admin = AdminApi(
            tenant_id=tenant_id,
            store=self.arm,
            clusters=self.clusters,
            requests=self.requests,
            events=self.events,
            faults=self.faults,
            throttle=self.throttle,
            tokens=self.tokens,
            vaults=self.keyvault,
        )

    # -- the front door --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_emulator/"):
            return self.admin.handle(request)
        if request.path.startswith("/_guard/"):  # a real API server's webhooks; it authenticates with its own secret
            return self.clusters.handle_guard(request)
        if request.path.rstrip("/") == tenancy.METADATA_PATH and request.method == "GET":
            return Response(200, tenancy.metadata_endpoints(self.site.arm_endpoint))  # anonymous, as on ARM
        host = (request.header("host") or "").split(":")[0].lower()
        if host.endswith(VAULT_SUFFIX):
            return self._serve(
                "keyvault", request, lambda identity: self.keyvault.handle(request, host[: -len(VAULT_SUFFIX)])
            )
        if request.path.startswith("/clusters/"):
            return self._serve("kube", request, lambda identity: self.clusters.handle(request))
        return self._serve("arm", request, lambda identity: self.arm_service.handle(request, identity))

    def _serve(self, service: str, request: Request, call) -> Response:
        kind = OPERATION_KIND.get(request.method, "write")
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "service": service,
            "method": request.method,
            "path": request.path,
            "operation": kind,
            "principal": None,
            "status": 0,
        }
        started = time.perf_counter()
        try:
            response = self._pipeline(service, kind, request, call, entry)
        except HttpError as error:
            response = error.response
        entry["status"] = response.status
        entry["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.requests.append(entry)
        return response

    def _pipeline(self, service: str, kind: str, request: Request, call, entry: dict) -> Response:
        latency = self.faults.latency_ms.get(service, 0)
        if latency:
            time.sleep(latency / 1000)
        fault = self.faults.take(service, request.method, request.path, kinds=("status", "throttle", "reset", "delay"))
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "delay":
                time.sleep(fault.delay_ms / 1000)
            elif fault.kind == "reset":
                return Response(0)
            elif fault.kind == "throttle":
                return _throttled(service, fault.retry_after)
            else:
                return _fault_status(service, fault.status, fault.retry_after)
        verified = self.tokens.verify(request.header("authorization"))
        if verified is None:
            return self._unauthenticated(service)
        identity, claims = verified
        audience = claims["aud"]
        request.principal, request.audience, request.claims = identity.principal, audience, claims
        entry["principal"] = identity.principal.name
        self._check_audience(service, audience)
        if service != "arm":
            return call(identity)
        if request.path.rstrip("/").lower() == resourcegraph.PATH:  # its own per-user quota, not ARM's buckets
            allowed, remaining, resets = self.graph_quota.take(identity.principal.object_id)
            if not allowed:
                entry["throttled"] = True
                throttled = _throttled(service, math.ceil(resets) or 1)
                throttled.headers.update(resourcegraph.quota_headers(0, resets))
                return throttled
            response = call(identity)
            response.headers.update(resourcegraph.quota_headers(remaining, resets))
            return response
        decision = self.throttle.take(
            request.path.split("/")[2] if request.path.count("/") > 2 else "-", identity.principal.object_id, kind
        )
        if not decision.allowed:
            entry["throttled"] = True
            return _throttled(service, decision.retry_after)
        response = call(identity)
        response.headers[decision.header] = str(decision.remaining)
        if response.status in (200, 201, 202) and {"Azure-AsyncOperation", "Location"} & set(response.headers):
            response.headers.update(self.operations.retry_headers())  # an operation just started: when to poll
        return response

    def _unauthenticated(self, service: str) -> Response:
        if service == "keyvault":
            return self.keyvault.challenge()
        if service == "kube":
            return Response(401, status_body(401, "Unauthorized", "Unauthorized"))
        return Response(
            401,
            {
                "error": {
                    "code": "AuthenticationFailed",
                    "message": "Authentication failed. The 'Authorization' header is missing or invalid.",
                }
            },
            {"WWW-Authenticate": 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token"'},
        )

    def _check_audience(self, service: str, audience: str) -> None:
        allowed = {"arm": ARM_AUDIENCES, "kube": {AKS_AUDIENCE}, "keyvault": {VAULT_AUDIENCE}}[service]
        if audience.rstrip("/") in allowed:
            return
        if service == "kube":
            raise HttpError(Response(401, status_body(401, "Unauthorized", "Unauthorized")))
        if service == "keyvault":
            raise HttpError(self.keyvault.challenge())
        raise arm_error(
            401,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match "
            "with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net',"
            "'https://management.azure.com/','https://management.azure.com'.",
        )


def _throttled(service: str, retry_after: int) -> Response:
    if service == "kube":
        body = status_body(429, "TooManyRequests", "Too many requests, please try again later.")
    else:
        body = {
            "error": {
                "code": "TooManyRequests",
                "message": "The request is being throttled as the limit has been reached for operation type.",
            }
        }
    return Response(429, body, {"Retry-After": str(retry_after)})


# An injected status answers with the code the service itself gives for it, so the app classifies it as it would a
# real one: a 400 is a refusal (never retried), a 503 a transient failure. A status not listed takes the service's
# 400 or 500 code.
_ARM_CODES = {
    400: "BadRequest",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_FAULT_CODES = {
    "arm": _ARM_CODES,
    "keyvault": {
        **_ARM_CODES,
        400: "BadParameter",
        401: "Unauthorized",
        403: "Forbidden",
        404: "SecretNotFound",
    },
    "kube": {  # Kubernetes Status reasons
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        422: "Invalid",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    },
}


def _fault_status(service: str, status: int, retry_after: int) -> Response:
    codes = _FAULT_CODES[service]
    code = codes.get(status) or codes[500 if status >= 500 else 400]
    if service == "kube":
        body = status_body(status, code, "injected fault")
    else:
        body = {"error": {"code": code, "message": "Injected fault."}}
    headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
    return Response(status, body, headers)
