"""Service Connector (Microsoft.ServiceLinker) with an AKS source, per the 2024-04-01 contract.

Side effects follow FACTS.md sections 1-2: the sc-extension, the secret and service account in the
`scope` namespace, OIDC + workload identity on the cluster, a federated credential on the identity, a
role assignment and a firewall rule on the target. Deleting a linker leaves the Kubernetes objects.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulator.arm import resources as rt
from emulator.arm.errors import arm_error, bad_request, missing_registration, not_found
from emulator.arm.linker_config import (
    AccountKind,
    AuthType,
    ConfigItem,
    Credentials,
    account_configuration,
    renamed,
    sql_configuration,
)
from emulator.arm.notify import DELETE, WRITE, ResourceEvents
from emulator.arm.operations import Operations, Outcome
from emulator.arm.paths import ArmPath
from emulator.arm.store import ArmStore
from emulator.clusters import Clusters
from emulator.faults import Faults
from emulator.http import Request, Response
from emulator.identity import Identity
from emulator.site import Site

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._]{1,60}$")
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
AUTH_TYPES = {
    "systemAssignedIdentity", "userAssignedIdentity", "servicePrincipalSecret", "servicePrincipalCertificate",
    "secret", "accessKey", "userAccount", "easyAuthMicrosoftEntraID",
}  # fmt: skip
CLIENT_TYPES = {
    "none", "dotnet", "java", "python", "go", "php", "ruby", "django", "nodejs", "springBoot", "kafka-springBoot",
    "jms-springBoot", "dapr",
}  # fmt: skip
# Auth types an AKS source accepts per target type (azure-cli _resource_config.py; SQL + workload identity
# as the AKS-to-SQL tutorial uses it).
ALLOWED_AUTH = {
    rt.SQL_DATABASE: {"secret", "userAssignedIdentity"},
    rt.COGNITIVE_ACCOUNT: {"userAssignedIdentity", "secret", "servicePrincipalSecret"},
}
OPENAI_USER_ROLE = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"  # Cognitive Services OpenAI User
EXTENSION_NAME = "sc-extension"
AKS_API_VERSION = "2025-07-01"  # what Service Connector's own cluster update is recorded with (INFERRED)
EXTENSION_NAMESPACE = "sc-system"


def secret_name(linker_name: str) -> str:
    """Service Connector's secret name (azure-cli get_aks_resource_name); lower-cased as Kubernetes requires."""
    return f"sc-{re.sub(r'[^A-Za-z0-9]', '', linker_name)}-secret".lower()


def service_account_name(client_id: str) -> str:
    return f"sc-account-{client_id}"


@dataclass(kw_only=True, eq=False)
class ServiceLinker:
    """Linkers on a managed cluster: validated like the service, provisioned by an LRO with its side effects."""

    store: ArmStore
    operations: Operations
    events: ResourceEvents
    faults: Faults
    clusters: Clusters
    tenant_id: str
    site: Site
    _secret_values: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # linker id -> raw secret

    # -- CRUD ------------------------------------------------------------------------------------------
    def handle(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        source_id = path.id.rsplit("/providers/", 1)[0]
        if request.method == "GET":
            linker = self.store.get(path.id)
            if linker is None:
                raise not_found("Microsoft.ServiceLinker/linkers", path.name, path.resource_group)
            return Response(200, linker)
        if request.method == "DELETE":
            return self._delete(request, path, identity)
        if request.method in ("PUT", "PATCH"):
            return self._put(request, path, source_id, identity)
        raise arm_error(405, "MethodNotAllowed", f"The method '{request.method}' is not allowed.")

    def list(self, request: Request, path: ArmPath) -> Response:
        return Response(
            200,
            {"value": sorted(self.store.children(path.id, "Microsoft.ServiceLinker/linkers"), key=lambda r: r["name"])},
        )

    def _put(self, request: Request, path: ArmPath, source_id: str, identity: Identity) -> Response:
        cluster = self.store.get(source_id)
        if cluster is None or cluster["type"].lower() != rt.CLUSTER:
            raise not_found(
                "Microsoft.ContainerService/managedClusters", source_id.rsplit("/", 1)[-1], path.resource_group
            )
        if not NAME_PATTERN.match(path.name):
            raise bad_request(
                "Resource name can only contain letters (A-Z, a-z), numbers (0-9), periods ('.'), "
                "and underscores ('_')",
                "InvalidResourceName",
            )
        # Only the linker's own namespace answers 409 at once; Microsoft.KubernetesConfiguration, which Service
        # Connector uses internally, makes the operation fail instead (FACTS.md section 6).
        if self.store.subscription(path.subscription_id).provider_state("Microsoft.ServiceLinker") != "Registered":
            raise missing_registration("Microsoft.ServiceLinker")
        body = request.json() or {}
        existing = self.store.get(path.id)
        if request.method == "PATCH":
            if existing is None:
                raise not_found("Microsoft.ServiceLinker/linkers", path.name, path.resource_group)
            body = {"properties": {**existing["properties"], **(body.get("properties") or {})}}
        props = body.get("properties") or {}
        target = self._validate(props)
        auth = dict(props["authInfo"])
        # GET never returns a secret: keep it aside for the provisioning step only; `secretInfo` stays without value.
        secret_info = dict(auth.get("secretInfo") or {})
        secret_value = secret_info.pop("value", None) or auth.pop("secret", None)
        if "secretInfo" in auth:
            auth["secretInfo"] = secret_info
        now = _now()
        created = (existing or {}).get("systemData") or {
            "createdBy": _who(identity),
            "createdByType": identity.principal.kind,
            "createdAt": now,
        }
        linker = {
            "id": path.id,
            "name": path.name,
            "type": "microsoft.servicelinker/linkers",
            "systemData": {
                **{k: created[k] for k in ("createdBy", "createdByType", "createdAt")},
                "lastModifiedBy": _who(identity),
                "lastModifiedByType": identity.principal.kind,
                "lastModifiedAt": now,
            },
            "properties": {
                "targetService": {"type": "AzureResource", "id": props["targetService"]["id"]},
                "authInfo": auth,
                "clientType": props.get("clientType", "none"),
                "scope": props.get("scope") or "default",
                "publicNetworkSolution": props.get("publicNetworkSolution"),
                "configurationInfo": props.get("configurationInfo"),
                "secretStore": props.get("secretStore"),
                "provisioningState": "Accepted",
            },
        }
        self.store.put(linker)
        if secret_value is not None:
            self._secret_values[path.id.lower()] = secret_value
        op = self.operations.start(
            path.subscription_id,
            "Microsoft.ServiceLinker",
            cluster["location"],
            lambda: self._provision(path.id, cluster["id"], target, identity),
            resource_id=path.id,
            running="Accepted",
        )
        self.events.emit(
            WRITE, path.id, "Microsoft.ServiceLinker/linkers/write", request, identity, updated=existing is not None
        )
        # 201 for a new linker and for a PUT on an existing one alike (both azure-cli recordings, FACTS.md section 10).
        return Response(201, linker, {"Azure-AsyncOperation": self._op_url(op.status_path)})

    def _delete(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        linker = self.store.get(path.id)
        if linker is None:
            return Response(204)

        def complete() -> Outcome:
            self.store.delete(path.id)
            self._secret_values.pop(path.id.lower(), None)
            # Every successful delete raises ResourceDeleteSuccess, a linker's too (FACTS.md section 10).
            self.events.emit(DELETE, path.id, "Microsoft.ServiceLinker/linkers/delete", request, identity, updated=True)
            return Outcome("Succeeded")

        op = self.operations.start(
            path.subscription_id, "Microsoft.ServiceLinker", "global", complete, resource_id=path.id, running="Accepted"
        )
        return Response(202, None, self._lro_headers(op))

    # -- actions ---------------------------------------------------------------------------------------
    def action(self, request: Request, path: ArmPath, identity: Identity) -> Response:
        linker = self.store.get(path.id)
        if linker is None:
            raise not_found("Microsoft.ServiceLinker/linkers", path.name, path.resource_group)
        action = path.action.lower()
        if action == "listconfigurations":
            # Credential values are "" for an AKS source (FACTS.md section 1); items carry description "" (section 10).
            configs = [
                {"name": item.name, "value": "" if item.credential else item.value, "configType": "Default",
                 "description": ""}
                for item in self._configuration(linker)
            ]  # fmt: skip
            return Response(200, {"configurations": configs})
        if action == "validatelinker":
            op = self.operations.start(
                path.subscription_id,
                "Microsoft.ServiceLinker",
                "global",
                lambda: Outcome("Succeeded", properties=self._validation(linker)),
                resource_id=path.id,
                running="Accepted",
            )
            # 202 with both headers (FACTS.md section 10); the result is the operation's status document.
            return Response(202, None, self._lro_headers(op))
        raise arm_error(404, "InvalidResourceType", f"The action '{path.action}' is not supported on linkers.")

    def _validation(self, linker: dict) -> dict:
        """What the real service answers for an AKS source: success, unless the target is gone. Detail names are
        sentences, `description` null, `sourceId`/`targetId` null (FACTS.md section 10)."""
        props = linker["properties"]
        target_id = props["targetService"]["id"]
        exists = self.store.get(target_id) is not None
        start = _now()
        auth_type = props["authInfo"]["authType"]
        checks = ["Target resource existence validated.", "Target service firewall validated."]
        if auth_type == AuthType.USER_ASSIGNED_IDENTITY:
            checks += [
                "Managed Identity existence validated.",
                "Managed Identity permissions validated.",
                "Workload identity federated credential validated.",
            ]
        else:
            checks.append(
                "Username and password validated." if auth_type == AuthType.SECRET else "Auth info validated."
            )
        detail = [
            {"name": name, "description": None, "result": "success", "errorMessage": None, "errorCode": None}
            for name in checks
        ]
        if not exists:
            detail[0].update(
                result="failure",
                errorMessage=f"The target resource '{target_id}' does not exist.",
                errorCode="TargetNotFound",
            )
        return {
            "isConnectionAvailable": exists,
            "linkerName": linker["name"],
            "sourceId": None,
            "targetId": None,
            "authType": auth_type,
            "reportStartTimeUtc": start,
            "reportEndTimeUtc": _now(),
            "validationDetail": detail,
        }

    # -- validation of the request body ----------------------------------------------------------------
    def _validate(self, props: dict) -> dict:
        target_service = props.get("targetService") or {}
        if target_service.get("type") != "AzureResource" or not target_service.get("id"):
            raise bad_request(
                "targetService must be {type: 'AzureResource', id: <target resource id>}.", "InvalidTargetService"
            )
        target = self.store.get(target_service["id"])
        if target is None:
            raise bad_request(f"Target resource '{target_service['id']}' was not found.", "TargetNotFound")
        target_type = target["type"].lower()
        allowed = ALLOWED_AUTH.get(target_type)
        if allowed is None:
            raise bad_request(
                f"Target resource type '{target['type']}' is not supported for source type "
                "'Microsoft.ContainerService/managedClusters'.",
                "UnsupportedTargetType",
            )
        auth = props.get("authInfo") or {}
        auth_type = auth.get("authType")
        if auth_type not in AUTH_TYPES:
            raise bad_request(f"authInfo.authType '{auth_type}' is not a valid discriminator value.", "InvalidAuthType")
        if auth_type not in allowed:
            raise bad_request(
                f"Auth type '{auth_type}' is not supported for target '{target['type']}' with an AKS source. "
                f"Supported: {', '.join(sorted(allowed))}.",
                "UnsupportedAuthType",
            )
        if auth_type == "secret" and target_type == rt.SQL_DATABASE:
            info = auth.get("secretInfo") or {}
            if not auth.get("name") or info.get("secretType") != "rawValue" or not info.get("value"):
                raise bad_request(
                    "Secret auth for an AKS source requires authInfo.name and "
                    "secretInfo {secretType: rawValue, value}; "
                    "Key Vault secret references are not supported.",
                    "InvalidSecretInfo",
                )
        if auth_type == "userAssignedIdentity":
            if not auth.get("clientId") or not auth.get("subscriptionId"):
                raise bad_request("userAssignedIdentity requires clientId and subscriptionId.", "InvalidAuthInfo")
            if self._identity_by_client_id(auth["subscriptionId"], auth["clientId"]) is None:
                raise bad_request(
                    f"No user-assigned identity with client id '{auth['clientId']}' was found.", "IdentityNotFound"
                )
        if auth_type == "servicePrincipalSecret" and not all(
            auth.get(k) for k in ("clientId", "principalId", "secret")
        ):
            raise bad_request("servicePrincipalSecret requires clientId, principalId and secret.", "InvalidAuthInfo")
        client_type = props.get("clientType", "none")
        if client_type not in CLIENT_TYPES:
            raise bad_request(f"clientType '{client_type}' is not valid.", "InvalidClientType")
        scope = props.get("scope") or "default"
        if not NAMESPACE_PATTERN.match(scope) or len(scope) > 63:
            raise bad_request(f"scope '{scope}' is not a valid Kubernetes namespace name.", "InvalidScope")
        return target

    def _identity_by_client_id(self, subscription_id: str, client_id: str) -> dict | None:
        for identity in self.store.of_type_under(f"/subscriptions/{subscription_id}", rt.TYPES[rt.IDENTITY].canonical):
            if identity["properties"]["clientId"].lower() == client_id.lower():
                return identity
        return None

    # -- provisioning (the LRO's work) -----------------------------------------------------------------
    def _provision(self, linker_id: str, cluster_id: str, target: dict, identity: Identity) -> Outcome:
        linker = self.store.get(linker_id)
        cluster = self.store.get(cluster_id)
        if linker is None or cluster is None:
            return Outcome("Failed", {"code": "ResourceNotFound", "message": "The linker or its cluster was deleted."})
        subscription = self.store.subscription(cluster_id.split("/")[2])
        kubernetes_configuration = subscription.provider_state("Microsoft.KubernetesConfiguration") == "Registered"
        if cluster["properties"].get("provisioningState") != "Succeeded" or not kubernetes_configuration:
            linker["properties"]["provisioningState"] = "Failed"
            return Outcome(
                "Failed",
                {
                    "code": "GeneralUserError",
                    "message": "Execution failed. Operation returned an invalid status code 'Conflict'",
                },
            )
        if self.faults.take("arm", "LRO", linker_id, kinds=("lro_fail",)):
            linker["properties"]["provisioningState"] = "Failed"
            return Outcome("Failed", {"code": "InternalServerError", "message": "Injected LRO failure."})
        props = linker["properties"]
        kube = self.clusters.runtime(cluster_id).store
        self._ensure_extension(cluster, kube, identity)
        namespace = props["scope"]
        if kube.get("namespaces", None, namespace) is None:
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        auth = props["authInfo"]
        if auth["authType"] == "userAssignedIdentity":
            self._wire_workload_identity(cluster, target, auth, namespace, kube, identity)
        if target["type"].lower() == rt.SQL_DATABASE:
            self._open_sql_firewall(cluster, target)
        data = {item.name: item.value for item in self._configuration(linker, include_secrets=True)}
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": secret_name(linker["name"]), "namespace": namespace},
                "data": {k: base64.b64encode(str(v).encode()).decode() for k, v in data.items()},
            }
        )
        props["provisioningState"] = "Succeeded"
        return Outcome("Succeeded", properties={"Message": None})

    def _ensure_extension(self, cluster: dict, kube, identity: Identity) -> None:
        extension_id = f"{cluster['id']}/providers/Microsoft.KubernetesConfiguration/extensions/{EXTENSION_NAME}"
        if self.store.get(extension_id) is None:
            body = {
                "properties": {
                    "extensionType": "microsoft.servicelinker.connection",
                    "autoUpgradeMinorVersion": True,
                    "scope": {"cluster": {"releaseNamespace": EXTENSION_NAMESPACE}},
                    "provisioningState": "Succeeded",
                }
            }
            self.store.put(rt.new_resource(extension_id, rt.EXTENSION, body, None, self.tenant_id))
        if kube.get("namespaces", None, EXTENSION_NAMESPACE) is None:
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EXTENSION_NAMESPACE}})

    def _wire_workload_identity(self, cluster, target, auth, namespace, kube, identity) -> None:
        props = cluster["properties"]
        if not props["oidcIssuerProfile"].get("enabled") or not props["securityProfile"]["workloadIdentity"].get(
            "enabled"
        ):
            props["oidcIssuerProfile"]["enabled"] = True
            props["securityProfile"]["workloadIdentity"]["enabled"] = True
            self.store.put(rt.new_resource(cluster["id"], rt.CLUSTER, cluster, cluster, self.tenant_id))
            self.events.emit_as(
                WRITE, cluster["id"], "Microsoft.ContainerService/managedClusters/write", identity, AKS_API_VERSION
            )
        cluster = self.store.get(cluster["id"])
        issuer = cluster["properties"]["oidcIssuerProfile"]["issuerURL"]
        uami = self._identity_by_client_id(auth["subscriptionId"], auth["clientId"])
        sa_name = service_account_name(auth["clientId"])
        subject = f"system:serviceaccount:{namespace}:{sa_name}"
        existing = self.store.children(uami["id"], rt.TYPES[rt.FEDERATED_CREDENTIAL].canonical)
        if not any(c["properties"]["issuer"] == issuer and c["properties"]["subject"] == subject for c in existing):
            # The credential's name is INFERRED (not documented): one per cluster/namespace/service account.
            fic_id = f"{uami['id']}/federatedIdentityCredentials/sc_{rt.stable_uuid(issuer, subject)[:8]}"
            body = {"properties": {"issuer": issuer, "subject": subject, "audiences": ["api://AzureADTokenExchange"]}}
            self.store.put(rt.new_resource(fic_id, rt.FEDERATED_CREDENTIAL, body, None, self.tenant_id))
        if kube.get("serviceaccounts", namespace, sa_name) is None:
            kube.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {
                        "name": sa_name,
                        "namespace": namespace,
                        "annotations": {"azure.workload.identity/client-id": auth["clientId"]},
                    },
                }
            )
        if target["type"].lower() == rt.COGNITIVE_ACCOUNT:
            principal_id = uami["properties"]["principalId"]
            assignment_name = rt.stable_uuid(target["id"], principal_id)
            assignment_id = f"{target['id']}/providers/Microsoft.Authorization/roleAssignments/{assignment_name}"
            subscription = target["id"].split("/")[2]
            role = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_USER_ROLE}"
            body = {
                "properties": {
                    "roleDefinitionId": role,
                    "principalId": principal_id,
                    "principalType": "ServicePrincipal",
                }
            }
            self.store.put(rt.new_resource(assignment_id, rt.ROLE_ASSIGNMENT, body, None, self.tenant_id))

    def _open_sql_firewall(self, cluster: dict, target: dict) -> None:
        server_id = target["id"].rsplit("/databases/", 1)[0]
        ip = rt.outbound_ip(cluster["id"])
        rule_id = f"{server_id}/firewallRules/ServiceLinker-{rt.stable_uuid(cluster['id'])[:8]}"
        body = {"properties": {"startIpAddress": ip, "endIpAddress": ip}}
        self.store.put(rt.new_resource(rule_id, rt.SQL_FIREWALL_RULE, body, None, self.tenant_id))

    # -- configuration (key names per target kind and client type: linker_config.py) -------------------
    def _configuration(self, linker: dict, include_secrets: bool = False) -> list[ConfigItem]:
        props = linker["properties"]
        target_id = props["targetService"]["id"]
        target = self.store.get(target_id) or {"id": target_id, "name": target_id.rsplit("/", 1)[-1]}
        auth = props["authInfo"]
        auth_type = AuthType(auth["authType"])
        secret = self._secret_values.get(linker["id"].lower(), "") if include_secrets else ""
        identity = (
            self._identity_by_client_id(auth["subscriptionId"], auth["clientId"])
            if auth_type is AuthType.USER_ASSIGNED_IDENTITY
            else None
        )
        creds = Credentials(
            user=auth.get("name") or "",
            password=secret,
            client_id=auth.get("clientId") or "",
            principal_id=(identity or {}).get("properties", {}).get("principalId", ""),
            tenant_id=self.tenant_id,
            account_key=rt.stable_uuid("key1", target_id).replace("-", "") if include_secrets else "",
        )
        if "/databases/" in target_id.lower():
            items = sql_configuration(
                props["clientType"], auth_type, target_id.split("/")[8], target_id.rsplit("/", 1)[-1], creds
            )
        else:
            kind = AccountKind(target.get("kind") or AccountKind.OPENAI)
            items = account_configuration(kind, auth_type, {"location": "westeurope", **target}, creds)
        return renamed(items, (props.get("configurationInfo") or {}).get("customizedKeys"))

    def _op_url(self, path: str) -> str:
        return f"{self.site.arm_endpoint}{path}?api-version=2024-04-01"

    def _lro_headers(self, op) -> dict[str, str]:
        return {
            "Azure-AsyncOperation": self._op_url(op.status_path),
            "Location": self._op_url(op.result_path),
        }


def _who(identity: Identity) -> str:
    """systemData's createdBy: an application's client id, a person's name."""
    return identity.principal.client_id if identity.principal.kind == "Application" else identity.principal.name


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
