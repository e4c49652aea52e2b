"""The local cloud: every emulated service's state and the HTTPS front door that routes to them."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import yaml

from emulator.admin import AdminApi
from emulator.arm.errors import arm_error
from emulator.arm.operations import Operations
from emulator.arm.service import ArmService
from emulator.arm.servicelinker import ServiceLinker
from emulator.arm.store import ArmStore
from emulator.events import EventLog
from emulator.faults import Faults
from emulator.http import HttpError, Request, Response
from emulator.identity import AKS_AUDIENCE, ARM_AUDIENCE, VAULT_AUDIENCE, Identity, TokenService
from emulator.keyvault import VAULT_SUFFIX, KeyVaultService
from emulator.kube import KubeApi, ObjectStore
from emulator.kube.errors import status_body
from emulator.throttle import TokenBuckets

ARM_AUDIENCES = {ARM_AUDIENCE, "https://management.core.windows.net"}
OPERATION_KIND = {"GET": "read", "HEAD": "read", "DELETE": "delete"}  # everything else is a write


@dataclass
class ClusterRuntime:
    """An emulated AKS cluster's Kubernetes API, served under /clusters/{key}."""

    key: str
    cluster_id: str
    store: ObjectStore
    api: KubeApi


class Cloud:
    def __init__(self, tenant_id: str, lro_polls: int = 1):
        self.tenant_id = tenant_id
        self.arm = ArmStore()
        self.tokens = TokenService(tenant_id)
        self.events = EventLog(tenant_id)
        self.faults = Faults()
        self.throttle = TokenBuckets()
        self.operations = Operations(lro_polls)
        self.arm_service = ArmService(self)
        self.linkers = ServiceLinker(self)
        self.keyvault = KeyVaultService(self)
        self.admin = AdminApi(self)
        self.clusters: dict[str, ClusterRuntime] = {}  # by lower-case cluster id
        self._clusters_by_key: dict[str, ClusterRuntime] = {}
        self.requests: list[dict] = []
        self._requests_lock = threading.Lock()
        self.arm_endpoint = ""  # set once the listener is bound
        self.ca_pem = ""

    # -- clusters --------------------------------------------------------------------------------------
    def ensure_cluster_runtime(self, cluster: dict) -> ClusterRuntime:
        key = cluster["id"].lower()
        runtime = self.clusters.get(key)
        if runtime is None:
            short = "c" + hashlib.sha256(key.encode()).hexdigest()[:12]
            store = ObjectStore()
            api = KubeApi(store, cluster["id"], self._authorize_data_action)
            runtime = ClusterRuntime(short, cluster["id"], store, api)
            self.clusters[key] = runtime
            self._clusters_by_key[short] = runtime
        return runtime

    def drop_cluster_runtime(self, cluster_id: str) -> None:
        runtime = self.clusters.pop(cluster_id.lower(), None)
        if runtime:
            self._clusters_by_key.pop(runtime.key, None)

    def cluster_runtime(self, cluster_id: str) -> ClusterRuntime:
        return self.clusters[cluster_id.lower()]

    def kubeconfig_for(self, cluster: dict) -> str:
        """What listClusterUserCredential returns: the cluster's API server and CA (AAD clusters: no user token)."""
        runtime = self.ensure_cluster_runtime(cluster)
        name = cluster["name"]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": f"{self.arm_endpoint}/clusters/{runtime.key}",
                        "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode(),
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"clusterUser_{name}"}}],
            "current-context": name,
            "users": [
                {
                    "name": f"clusterUser_{name}",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": ["get-token", "--server-id", AKS_AUDIENCE, "--login", "azurecli"],
                        }
                    },
                }
            ],
        }
        return yaml.safe_dump(config, sort_keys=False)

    def _authorize_data_action(self, principal, action: str, scope: str) -> bool:
        identity = self.tokens.identities.get(principal.object_id)
        return identity is not None and identity.allowed(action, scope, data=True)

    # -- the front door --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_emulator/"):
            return self.admin.handle(request)
        host = (request.header("host") or "").split(":")[0].lower()
        if host.endswith(VAULT_SUFFIX):
            return self._serve(
                "keyvault", request, lambda identity: self.keyvault.handle(request, host[: -len(VAULT_SUFFIX)])
            )
        if request.path.startswith("/clusters/"):
            return self._serve("kube", request, lambda identity: self._kube(request))
        return self._serve("arm", request, lambda identity: self.arm_service.handle(request, identity))

    def _kube(self, request: Request) -> Response:
        _, _, key, *rest = request.path.split("/", 3)
        runtime = self._clusters_by_key.get(key)
        if runtime is None:
            return Response(
                404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
            )
        return runtime.api.handle(request, "/" + (rest[0] if rest else ""))

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
        with self._requests_lock:
            entry["seq"] = len(self.requests)
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
        identity, audience = verified
        request.principal, request.audience = identity.principal, audience
        entry["principal"] = identity.principal.name
        self._check_audience(service, audience)
        if service != "arm":
            return call(identity)
        decision = self.throttle.take(
            request.path.split("/")[2] if request.path.count("/") > 2 else "-", identity.principal.object_id, kind
        )
        if not decision.allowed:
            entry["throttled"] = True
            return _throttled(service, decision.retry_after)
        response = call(identity)
        response.headers[decision.header] = str(decision.remaining)
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

    # -- identity endpoint (App Service / Functions managed identity protocol) ---------------------------
    def issue_managed_identity_token(self, query: dict[str, str], default: Identity) -> tuple[int, dict]:
        resource = (query.get("resource") or "").removesuffix("/.default")
        if not resource:
            return 400, {"statusCode": 400, "message": "The 'resource' query parameter is required."}
        identity = default
        wanted = query.get("client_id") or query.get("principal_id")
        if wanted:
            matches = [
                i for i in self.tokens.identities.values()
                if wanted.lower() in (i.principal.client_id.lower(), i.principal.object_id.lower())
            ]  # fmt: skip
            if not matches:
                return 400, {"statusCode": 400, "message": f"No managed identity with id '{wanted}' is assigned."}
            identity = matches[0]
        token, expires_on = self.tokens.issue(identity.principal, resource.rstrip("/"))
        return 200, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.principal.client_id,
        }


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


def _fault_status(service: str, status: int, retry_after: int) -> Response:
    if service == "kube":
        body = status_body(status, "InternalError" if status == 500 else "ServiceUnavailable", "injected fault")
    else:
        body = {
            "error": {
                "code": "InternalServerError" if status == 500 else "ServiceUnavailable",
                "message": "Injected fault.",
            }
        }
    headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
    return Response(status, body, headers)
