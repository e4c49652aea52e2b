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

from emulator.arm import keys, managedclusters
from emulator.arm import resources as rt
from emulator.arm.errors import arm_error, authorization_failed, bad_request, missing_registration, not_found
from emulator.arm.linker_config import AuthType, ConfigItem, Credentials, renamed
from emulator.arm.linker_targets import (
    KEY_VAULT_SECRETS_USER,
    SecretSource,
    TargetContext,
    TargetKind,
    expected_shapes,
    kind_of,
    resource_id_of,
    roles_for,
)
from emulator.arm.notify import DELETE, WRITE, ResourceEvents
from emulator.arm.operations import Operations, Outcome
from emulator.arm.paths import ArmPath
from emulator.arm.store import ArmStore
from emulator.clusters import Clusters
from emulator.faults import Faults
from emulator.http import HttpError, Request, Response
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
SOURCE_TYPE = "Microsoft.ContainerService/managedClusters"
# Targets whose server Service Connector opens to the cluster's outbound IP (the firewall rule type under it).
FIREWALLS = {
    "sql": rt.SQL_FIREWALL_RULE,
    "postgres-flexible": "microsoft.dbforpostgresql/flexibleservers/firewallrules",
    "mysql-flexible": "microsoft.dbformysql/flexibleservers/firewallrules",
}
CSI_ADDON = "azureKeyvaultSecretsProvider"  # the AKS add-on whose identity a Key Vault CSI connection uses
EXTENSION_NAME = "sc-extension"
AKS_API_VERSION = "2025-07-01"  # what Service Connector's own cluster update is recorded with (INFERRED)
EXTENSION_NAMESPACE = "sc-system"


def secret_name(linker_name: str) -> str:
    """Service Connector's secret name (azure-cli get_aks_resource_name); lower-cased as Kubernetes requires."""
    return f"sc-{re.sub(r'[^A-Za-z0-9]', '', linker_name)}-secret".lower()


def service_account_name(client_id: str) -> str:
    return f"sc-account-{client_id}"


@dataclass(frozen=True)
class Target:
    """A linker's target as Service Connector resolved it: its kind, the id's parts, the resource it reads."""

    kind: TargetKind
    parts: dict[str, str]
    resource: dict  # the account, server, namespace, vault, cache or database the configuration comes from
    server_id: str  # the resource a firewall rule or role assignment goes on

    @property
    def csi(self) -> bool:
        return self.kind.name == "keyvault" and bool(self.parts.get("csi"))


def is_csi(target_service: dict) -> bool:
    """Key Vault through the Secrets Store CSI driver: `resourceProperties.connectAsKubernetesCsiDriver`."""
    properties = target_service.get("resourceProperties") or {}
    csi = bool(properties.get("connectAsKubernetesCsiDriver"))
    return str(properties.get("type", "")).lower() == "keyvault" and csi


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
    # linker id -> the configuration written at provisioning (what listConfigurations answers, credentials blanked)
    _configurations: dict[str, list[ConfigItem]] = field(default_factory=dict, init=False, repr=False)

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
                "targetService": _target_service(props["targetService"]),
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
            self._configurations.pop(path.id.lower(), None)
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
                for item in self._configurations.get(linker["id"].lower()) or self._configuration(linker)
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
        try:
            exists = bool(self._resolve(props["targetService"]))  # a Redis database index is no ARM resource
        except HttpError:
            exists = False
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
    def _validate(self, props: dict) -> Target:
        target_service = props.get("targetService") or {}
        if target_service.get("type") != "AzureResource" or not target_service.get("id"):
            raise bad_request(
                "targetService must be {type: 'AzureResource', id: <target resource id>}.", "InvalidTargetService"
            )
        target = self._resolve(target_service)
        allowed = [str(a) for a in target.kind.auth]
        auth = props.get("authInfo") or {}
        auth_type = auth.get("authType")
        if auth_type not in AUTH_TYPES:
            raise bad_request(f"authInfo.authType '{auth_type}' is not a valid discriminator value.", "InvalidAuthType")
        if auth_type not in allowed:
            raise bad_request(
                f"Unsupported resource: auth type '{auth_type}' is not supported for target '{target.kind.name}' "
                f"({target.kind.shape}) with a '{SOURCE_TYPE}' source. Supported: {', '.join(allowed)}.",
                "UnsupportedAuthType",
            )
        if auth_type == "secret":
            self._validate_secret(target.kind, auth)
        if target.csi:
            if auth_type != "userAssignedIdentity":
                raise bad_request(
                    "connectAsKubernetesCsiDriver uses the azure-keyvault-secrets-provider add-on's identity: "
                    "authInfo must be {authType: userAssignedIdentity} without a clientId.",
                    "InvalidAuthInfo",
                )
            return target
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

    def _resolve(self, target_service: dict) -> Target:
        """Match the id against the AKS targets' shapes and find the resource it names (azure-docs
        how-to-troubleshoot-front-end-error.md: "Unknown resource type", "Target resource ID is invalid")."""
        target_id = target_service["id"]
        found = kind_of(target_id)
        if found is None:
            shapes = expected_shapes(target_id)
            hint = f" Expected {' or '.join(shapes)}." if shapes else ""
            raise bad_request(
                f"Unknown resource type: target resource ID is invalid: '{target_id}' is not a target Service "
                f"Connector supports for a '{SOURCE_TYPE}' source.{hint}",
                "UnsupportedTargetType",
            )
        kind, match = found
        parts = {k: v for k, v in match.groupdict().items() if v is not None}
        resource_id = resource_id_of(target_id, kind, match)
        resource = self.store.get(resource_id)
        exists = resource is not None and (kind.index_of or self.store.get(target_id) is not None)
        if kind.index_of and exists and not (parts[kind.index_of].isdigit() and int(parts[kind.index_of]) < 16):
            raise bad_request(
                f"Target resource ID is invalid: '{target_id}': the database must be an index from 0 to 15.",
                "UnsupportedTargetType",
            )
        if not exists:
            raise bad_request(f"Target resource '{target_id}' was not found.", "TargetNotFound")
        if kind.name == "keyvault" and is_csi(target_service):
            parts["csi"] = "true"
        server_group = "server" if "server" in parts else "account"
        return Target(kind, parts, resource, target_id[: match.end(server_group)])

    def _validate_secret(self, kind: TargetKind, auth: dict) -> None:
        info = auth.get("secretInfo") or {}
        if kind.secret is SecretSource.USER:
            if not auth.get("name") or info.get("secretType") != "rawValue" or not info.get("value"):
                raise bad_request(
                    "Secret auth for an AKS source requires authInfo.name and "
                    "secretInfo {secretType: rawValue, value}; "
                    "Key Vault secret references are not supported.",
                    "InvalidSecretInfo",
                )
        elif auth.get("name") or info.get("value"):
            # INFERRED (the CLI refuses these keys for SecretAuto targets; the service's answer is not documented)
            raise bad_request(
                f"Service Connector fetches the credential of a '{kind.name}' target itself: authInfo must be "
                "{authType: secret} without name or secretInfo.",
                "InvalidSecretInfo",
            )

    def _identity_by_client_id(self, subscription_id: str, client_id: str) -> dict | None:
        for identity in self.store.of_type_under(f"/subscriptions/{subscription_id}", rt.TYPES[rt.IDENTITY].canonical):
            if identity["properties"]["clientId"].lower() == client_id.lower():
                return identity
        return None

    # -- provisioning (the LRO's work) -----------------------------------------------------------------
    def _provision(self, linker_id: str, cluster_id: str, target: Target, identity: Identity) -> Outcome:
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
        refused = self._missing_right(target, props["authInfo"], identity)
        if refused is not None:
            linker["properties"]["provisioningState"] = "Failed"
            return Outcome("Failed", refused)
        kube = self.clusters.runtime(cluster_id).store
        self._ensure_extension(cluster, kube, identity)
        namespace = props["scope"]
        if kube.get("namespaces", None, namespace) is None:
            kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        auth = props["authInfo"]
        addon_identity = None
        if target.csi:
            addon_identity = self._enable_csi_addon(cluster, identity)
            self._assign_roles(target, addon_identity["properties"]["principalId"], (KEY_VAULT_SECRETS_USER,))
        elif auth["authType"] == "userAssignedIdentity":
            self._wire_workload_identity(cluster, target, auth, namespace, kube, identity)
        if target.kind.name in FIREWALLS:
            self._open_firewall(cluster, target)
        configuration = self._configuration(linker, include_secrets=True, addon_identity=addon_identity)
        self._configurations[linker_id.lower()] = configuration
        data = {item.name: item.value for item in configuration}
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

    def _missing_right(self, target: Target, auth: dict, identity: Identity) -> dict | None:
        """Service Connector acts on the target with the caller's token ("the intersection of permissions between
        Service Connector and users", concept-permission.md): fetching a secret, opening a firewall, assigning a
        role. INFERRED: a missing right fails the operation with the caller's AuthorizationFailed."""
        needed: list[tuple[str, str, dict | None]] = []
        if auth["authType"] == "secret" and target.kind.list_keys:
            at = target.resource["id"] + target.kind.list_keys_at.format(**target.parts)
            needed.append((target.kind.list_keys, at, None))
        if target.kind.name in FIREWALLS:
            needed.append((f"{rt.TYPES[FIREWALLS[target.kind.name]].canonical}/write", target.server_id, None))
        roles = (KEY_VAULT_SECRETS_USER,) if target.csi else ()
        if auth["authType"] == "userAssignedIdentity" and not target.csi:
            roles = roles_for(target.kind, target.resource)
        for role in roles:  # what an ABAC delegation condition on the caller's grant tests
            attributes = {"RoleDefinitionId": role, "PrincipalType": "ServicePrincipal"}
            needed.append(("Microsoft.Authorization/roleAssignments/write", target.server_id, attributes))
        for action, scope, attributes in needed:
            if not identity.allowed(action, scope, attributes=attributes):
                return authorization_failed(identity.principal, action, scope).response.body["error"]
        return None

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
        self._assign_roles(target, uami["properties"]["principalId"], roles_for(target.kind, target.resource))

    def _assign_roles(self, target: Target, principal_id: str, roles: tuple[str, ...]) -> None:
        """The roles of concept-microsoft-entra-roles.md, on the resource the target hangs under (the account)."""
        subscription = target.server_id.split("/")[2]
        for role in roles:
            assignment_name = rt.stable_uuid(target.server_id, principal_id, role)
            assignment_id = f"{target.server_id}/providers/Microsoft.Authorization/roleAssignments/{assignment_name}"
            definition = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}"
            body = {"properties": {"roleDefinitionId": definition, "principalId": principal_id,
                                   "principalType": "ServicePrincipal"}}  # fmt: skip
            self.store.put(rt.new_resource(assignment_id, rt.ROLE_ASSIGNMENT, body, None, self.tenant_id))

    def _enable_csi_addon(self, cluster: dict, identity: Identity) -> dict:
        """Service Connector enables the azureKeyvaultSecretsProvider add-on (D-AKS); AKS gives it an identity in the
        node resource group, `azurekeyvaultsecretsprovider-<cluster>` (as AKS names it)."""
        identity_id = (f"{managedclusters.node_resource_group_id(cluster)}/providers/Microsoft.ManagedIdentity/"
                       f"userAssignedIdentities/azurekeyvaultsecretsprovider-{cluster['name']}")  # fmt: skip
        addon_identity = self.store.get(identity_id)
        if addon_identity is None:
            body = {"location": cluster["location"], "properties": {}}
            addon_identity = self.store.put(rt.new_resource(identity_id, rt.IDENTITY, body, None, self.tenant_id))
        profiles = cluster["properties"].setdefault("addonProfiles", {})
        if not (profiles.get(CSI_ADDON) or {}).get("enabled"):
            profiles[CSI_ADDON] = {
                "enabled": True,
                "config": {"enableSecretRotation": "false", "rotationPollInterval": "2m"},
                "identity": {"resourceId": identity_id, "clientId": addon_identity["properties"]["clientId"],
                             "objectId": addon_identity["properties"]["principalId"]},
            }  # fmt: skip
            self.store.put(rt.new_resource(cluster["id"], rt.CLUSTER, cluster, cluster, self.tenant_id))
            self.events.emit_as(
                WRITE, cluster["id"], "Microsoft.ContainerService/managedClusters/write", identity, AKS_API_VERSION
            )
        return addon_identity

    def _open_firewall(self, cluster: dict, target: Target) -> None:
        """An IP rule for the cluster's outbound IP on the server (D-AKS: networking is firewall rules only)."""
        ip = rt.outbound_ip(cluster["id"])
        rule_id = f"{target.server_id}/firewallRules/ServiceLinker-{rt.stable_uuid(cluster['id'])[:8]}"
        body = {"properties": {"startIpAddress": ip, "endIpAddress": ip}}
        self.store.put(rt.new_resource(rule_id, FIREWALLS[target.kind.name], body, None, self.tenant_id))

    # -- configuration (key names per target kind, auth type and client type: linker_targets.py) ---------------
    def _configuration(
        self, linker: dict, include_secrets: bool = False, addon_identity: dict | None = None
    ) -> list[ConfigItem]:
        props = linker["properties"]
        try:
            target = self._resolve(props["targetService"])
        except HttpError:  # the target is gone (or never was): nothing to compute from
            return []
        auth = props["authInfo"]
        auth_type = AuthType(auth["authType"])
        secret = self._secret_values.get(linker["id"].lower(), "") if include_secrets else ""
        identity = (
            self._identity_by_client_id(auth["subscriptionId"], auth["clientId"])
            if auth_type is AuthType.USER_ASSIGNED_IDENTITY and auth.get("clientId")
            else None
        )
        client_id = auth.get("clientId") or ""
        if target.csi:
            client_id = (addon_identity or self._csi_identity(linker) or {}).get("properties", {}).get("clientId", "")
        creds = Credentials(
            user=auth.get("name") or "",
            password=secret,
            client_id=client_id,
            principal_id=(identity or {}).get("properties", {}).get("principalId", ""),
            tenant_id=self.tenant_id,
            account_key=keys.hex_key(target.resource["id"], "key1") if include_secrets else "",
            secrets=include_secrets,
        )
        resource = {"location": "westeurope", **target.resource}
        context = TargetContext(
            props["targetService"]["id"], target.parts, resource, props["clientType"], auth_type, creds, target.csi
        )
        items = target.kind.configure(context)
        return renamed(items, (props.get("configurationInfo") or {}).get("customizedKeys"))

    def _csi_identity(self, linker: dict) -> dict | None:
        cluster = self.store.get(linker["id"].rsplit("/providers/", 1)[0])
        addon = ((cluster or {}).get("properties", {}).get("addonProfiles") or {}).get(CSI_ADDON) or {}
        return self.store.get(addon.get("identity", {}).get("resourceId", "")) if addon else None

    def _op_url(self, path: str) -> str:
        return f"{self.site.arm_endpoint}{path}?api-version=2024-04-01"

    def _lro_headers(self, op) -> dict[str, str]:
        return {
            "Azure-AsyncOperation": self._op_url(op.status_path),
            "Location": self._op_url(op.result_path),
        }


def _target_service(target_service: dict) -> dict:
    """What GET echoes: the type, the id and the resource properties (Key Vault CSI, App Configuration extension)."""
    echoed = {"type": "AzureResource", "id": target_service["id"]}
    if target_service.get("resourceProperties"):
        echoed["resourceProperties"] = dict(target_service["resourceProperties"])
    return echoed


def _who(identity: Identity) -> str:
    """systemData's createdBy: an application's client id, a person's name."""
    return identity.principal.client_id if identity.principal.kind == "Application" else identity.principal.name


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
