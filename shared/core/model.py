"""The domain: what the tags ask for (Intent) and what exists (ClusterState)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from shared.core.ids import ResourceRef

OWNED_PREFIX = "scap_"  # our linker names start with this (naming.is_ours checks the rest)
LINKER_SETTLING_STATES = frozenset({"Accepted", "InProgress", "Creating", "Updating", "Deleting"})


class TargetKind(Enum):
    """A Service Connector target type (shared/core/catalogue.py holds what each one is)."""

    SQL_DATABASE = "sql"
    POSTGRES_FLEXIBLE = "postgres-flexible"
    MYSQL_FLEXIBLE = "mysql-flexible"
    STORAGE_BLOB = "storage-blob"
    STORAGE_QUEUE = "storage-queue"
    STORAGE_TABLE = "storage-table"
    STORAGE_FILE = "storage-file"
    KEYVAULT = "keyvault"
    APP_CONFIGURATION = "appconfig"
    COSMOS_SQL = "cosmos-sql"
    COSMOS_MONGO = "cosmos-mongo"
    COSMOS_CASSANDRA = "cosmos-cassandra"
    COSMOS_GREMLIN = "cosmos-gremlin"
    COSMOS_TABLE = "cosmos-table"
    EVENT_HUBS = "eventhub"
    SERVICE_BUS = "servicebus"
    REDIS = "redis"
    REDIS_ENTERPRISE = "redis-enterprise"
    SIGNALR = "signalr"
    WEB_PUBSUB = "webpubsub"
    OPENAI = "openai"
    AI_SERVICES = "ai-services"
    COGNITIVE_SERVICES = "cognitive-services"
    APP_INSIGHTS = "app-insights"


class AuthKind(Enum):
    SECRET = "secret"  # noqa: S105 - an auth kind, not a password
    WORKLOAD_IDENTITY = "workload-identity"
    CSI = "csi"  # Key Vault through the Secrets Store CSI driver, with the cluster add-on's identity

    @property
    def linker_auth_type(self) -> str:
        return "secret" if self is AuthKind.SECRET else "userAssignedIdentity"


class ObjectKind(StrEnum):
    """The Kubernetes objects Service Connector writes that sc-autopilot may clean up."""

    SECRET = "Secret"  # noqa: S105 - a kind, not a password
    SERVICE_ACCOUNT = "ServiceAccount"


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


@dataclass(frozen=True, order=True)
class WorkloadRef:
    kind: str  # one of WORKLOAD_KINDS
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class WorkloadSpec:
    """A workload named by `sc-workloads`: `kind/name[:container]` in the target's namespace."""

    kind: str
    name: str
    container: str | None = None


@dataclass(frozen=True)
class TaggedResource:
    """A resource from the tag listing: enough to plan (id, type, kind, tags) without a GET."""

    id: str
    type: str  # lower-case
    kind: str
    tags: dict[str, str]
    capabilities: tuple[str, ...] = ()  # a Cosmos DB account's (its API), read by a GET; empty for other types
    provisioning_state: str | None = None  # the listing's $expand=provisioningState (None: not listed)


@dataclass(frozen=True)
class ClusterInfo:
    ref: ResourceRef
    tags: dict[str, str]
    provisioning_state: str
    oidc_issuer_url: str | None = None
    workload_identity_enabled: bool = False


@dataclass(frozen=True)
class TargetInfo:
    ref: ResourceRef
    kind: TargetKind
    tags: dict[str, str]


@dataclass(frozen=True)
class IdentityInfo:
    ref: ResourceRef
    client_id: str
    principal_id: str
    tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)  # its owner's consents


@dataclass(frozen=True)
class Intent:
    """One desired Service Connector connection, and the workloads it should be wired into."""

    cluster: ResourceRef
    target: ResourceRef  # Service Connector's target id (a sub-resource of the tagged resource for some kinds)
    target_kind: TargetKind
    namespace: str
    auth: AuthKind
    client_type: str
    workloads: tuple[WorkloadSpec, ...]
    linker_name: str
    secret_name: str
    identity: IdentityInfo | None = None
    service_account: str | None = None
    user: str | None = None  # sc-user, for a secret the user provides
    password_url: str | None = None  # sc-password: a Key Vault secret URL, never a password
    password_tag: str = "sc-password"  # noqa: S105 - the tag it came from (or sc-sql-password), named in findings
    resource: ResourceRef | None = None  # the tagged resource (consents are its owner's); None: `target` itself

    @property
    def tagged(self) -> ResourceRef:
        return self.resource or self.target


@dataclass(frozen=True)
class Connection:
    """A linker as ARM returns it (never with a secret value)."""

    name: str
    target_id: str
    auth_type: str
    namespace: str
    client_type: str
    provisioning_state: str
    client_id: str | None = None
    secret_user: str | None = None
    csi: bool = False  # Key Vault connected as the Kubernetes CSI driver (resourceProperties)

    @property
    def settling(self) -> bool:
        """An operation on the linker is still running: wait for it rather than PUT over it."""
        return self.provisioning_state in LINKER_SETTLING_STATES


@dataclass(frozen=True)
class Wiring:
    """What one connection adds to one workload; recorded on the workload so removal takes back exactly this."""

    secret: str
    containers: tuple[str, ...]
    service_account: str | None = None
    previous_service_account: str | None = None
    label: bool = False

    def to_dict(self) -> dict:
        return {
            "secret": self.secret,
            "containers": list(self.containers),
            "serviceAccount": self.service_account,
            "previousServiceAccount": self.previous_service_account,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Wiring:
        return cls(
            secret=str(data["secret"]),
            containers=tuple(str(c) for c in data.get("containers") or ()),
            service_account=data.get("serviceAccount"),
            previous_service_account=data.get("previousServiceAccount"),
            label=bool(data.get("label")),
        )


@dataclass(frozen=True)
class WorkloadState:
    """A workload as read from the cluster: the manifest, kept whole so a rewire is computed exactly."""

    ref: WorkloadRef
    manifest: dict

    @property
    def resource_version(self) -> str:
        return str(self.manifest.get("metadata", {}).get("resourceVersion", ""))


@dataclass(frozen=True)
class VaultVersion:
    """A Key Vault secret version's metadata as `GET /secrets/{name}/versions` lists it (never the value)."""

    vault_url: str  # https://<vault>.vault.azure.net
    name: str
    version: str
    enabled: bool = True
    expires: datetime | None = None
    not_before: datetime | None = None
    created: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict, compare=False, hash=False)  # its owner's consent

    @property
    def id(self) -> str:
        return f"{self.vault_url}/secrets/{self.name}/{self.version}"


@dataclass(frozen=True)
class ClusterState:
    info: ClusterInfo
    connections: tuple[Connection, ...]
    workloads: dict[WorkloadRef, WorkloadState]
    secrets: dict[str, frozenset[str]]  # namespace -> secret names (metadata only)
    service_accounts: dict[str, frozenset[str]]  # namespace -> service account names
    providers: dict[str, str]  # lower-case namespace -> registrationState
    # (kind, namespace, name) -> metadata of every Secret and ServiceAccount (metadata-only lists)
    metadata: dict[tuple[str, str, str], dict] = field(default_factory=dict)
    # every namespace of the cluster -> its annotations (its owner's consents); a namespace absent here does not exist
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    # (kind, namespace, name) of an env source (Secret, ConfigMap) -> the keys it gives a container (never values)
    env_keys: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)
    # (lower-case vault URL, lower-case secret name) -> its versions (metadata only); None: the app cannot list them
    vault_versions: dict[tuple[str, str], tuple[VaultVersion, ...] | None] = field(default_factory=dict)
    # (namespace, secret name) -> HMAC digest of the content of one of our connections' secrets (never the values)
    secret_digests: dict[tuple[str, str], str] = field(default_factory=dict)
    observed_at: datetime | None = None  # when the state was read: the clock of expiry and rollout deadlines
