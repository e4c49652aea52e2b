"""The tag contract, the product's user-facing API: tags -> what a resource asks for, or findings.

Total by design: any mapping of strings (or garbage) yields a result and findings, never an exception,
and a bad tag on one resource never affects another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.core import catalogue
from shared.core.catalogue import SecretSource
from shared.core.codes import Code, Finding
from shared.core.ids import ResourceRef
from shared.core.model import AuthKind, TargetKind, WorkloadSpec

GROUP, PAUSE, NAMESPACE, WORKLOADS, AUTH, CLIENT_TYPE = (
    "sc-group", "sc-pause", "sc-namespace", "sc-workloads", "sc-auth", "sc-client-type",
)  # fmt: skip
SQL_USER, SQL_PASSWORD, IDENTITY = "sc-sql-user", "sc-sql-password", "sc-identity"  # sc-sql-*: aliases
USER, PASSWORD, SERVICE, DATABASE = "sc-user", "sc-password", "sc-service", "sc-database"
DEFAULT_SERVICE = "blob"  # DECIDED: a storage account without sc-service connects its blob service
KIND_ALIASES = {
    "deployment": "Deployment", "deploy": "Deployment", "statefulset": "StatefulSet", "sts": "StatefulSet",
    "daemonset": "DaemonSet", "ds": "DaemonSet", "job": "Job", "cronjob": "CronJob",
}  # fmt: skip
CLIENT_TYPES = ("none", "dotnet", "java", "python", "go", "php", "ruby", "django", "nodejs", "springBoot",
                "kafka-springBoot")  # fmt: skip
MAX_WORKLOADS = 20
# Whole-value patterns, always applied with fullmatch: `^...$` with match() lets a trailing newline through.
_GROUP = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_@.-]{0,127}")
_VAULT_SECRET_PATH = re.compile(r"/secrets/(?P<name>[0-9A-Za-z-]{1,127})(?:/(?P<version>[0-9a-fA-F]{32}))?/?")
_RG_NAME = re.compile(r"[-\w._()]{0,89}[-\w_()]")  # Azure: a period anywhere but at the end
_IDENTITY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}")


@dataclass(frozen=True)
class ClusterTags:
    groups: frozenset[str]
    paused: bool
    identity: ResourceRef | None


@dataclass(frozen=True)
class TargetConnection:
    """One Service Connector connection a tagged resource asks for (a storage account may ask for several)."""

    kind: TargetKind
    target_id: str
    auth: AuthKind
    client_type: str


@dataclass(frozen=True)
class TargetTags:
    groups: frozenset[str]
    paused: bool
    namespace: str
    workloads: tuple[WorkloadSpec, ...]
    connections: tuple[TargetConnection, ...]
    user: str | None  # sc-user (or sc-sql-user), when a connection takes a secret the user provides
    password_url: str | None  # sc-password (or sc-sql-password): a Key Vault secret URL, never a password
    password_tag: str = PASSWORD  # the tag it came from, named in findings about it


def _normalise(tags: Any) -> dict[str, str]:
    """Tag names are case-insensitive in Azure; values are kept as they are."""
    if not isinstance(tags, Mapping):
        return {}
    return {str(k).strip().lower(): v if isinstance(v, str) else "" for k, v in tags.items() if isinstance(k, str)}


def declared_groups(tags: Any) -> frozenset[str]:
    """The groups a resource's `sc-group` tag names, whether or not its other tags are valid: events are routed
    by them, so a mis-tagged target still reaches the clusters that will report it."""
    raw = _normalise(tags).get(GROUP, "")
    return frozenset(g for g in (part.strip().lower() for part in raw.split(",")) if _GROUP.fullmatch(g))


class _Parser:
    def __init__(self, ref: ResourceRef, tags: Any):
        self.ref = ref
        self.tags = _normalise(tags)
        self.findings: list[Finding] = []

    def bad(self, tag: str, message: str, fix: str) -> None:
        self.findings.append(Finding(Code.TAG_INVALID, self.ref.id, f"tag {tag}: {message}", fix, tag=tag))

    def paused(self) -> bool:
        return self.tags.get(PAUSE, "").strip().lower() == "true"

    def groups(self) -> frozenset[str]:
        raw = self.tags.get(GROUP, "")
        groups = [g.strip().lower() for g in raw.split(",") if g.strip()]
        valid = frozenset(g for g in groups if _GROUP.fullmatch(g))
        invalid = [g for g in groups if not _GROUP.fullmatch(g)]
        if invalid:
            self.bad(GROUP, f"group name {_show(invalid[0])} is not valid",
                     "use letters, digits, '-', '_' or '.', at most 63 characters, comma separated")  # fmt: skip
        return valid


def parse_cluster_tags(ref: ResourceRef, tags: Any) -> tuple[ClusterTags | None, list[Finding]]:
    parser = _Parser(ref, tags)
    groups = parser.groups()
    identity = None
    raw_identity = parser.tags.get(IDENTITY, "").strip()
    if raw_identity:
        identity = _identity_ref(raw_identity, ref)
        if identity is None:
            parser.bad(IDENTITY, f"{_show(raw_identity)} is not a user-assigned managed identity",
                       "give its full resource id, <resource-group>/<name>, "
                       "or <name> in the cluster's resource group")  # fmt: skip
    if parser.findings and not parser.paused():
        return None, parser.findings
    return ClusterTags(groups, parser.paused(), identity), parser.findings


def _identity_ref(raw: str, cluster: ResourceRef) -> ResourceRef | None:
    if raw.startswith("/"):
        try:
            ref = ResourceRef.parse(raw)
        except ValueError:
            return None
        return ref if ref.type == "microsoft.managedidentity/userassignedidentities" else None
    parts = raw.split("/")
    if len(parts) == 1:
        group, name = cluster.resource_group, parts[0]
    elif len(parts) == 2:
        group, name = parts
    else:
        return None
    if not _RG_NAME.fullmatch(group) or not _IDENTITY_NAME.fullmatch(name):
        return None
    return ResourceRef(
        f"/subscriptions/{cluster.subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )


def parse_target_tags(
    ref: ResourceRef,
    kind: TargetKind,
    tags: Any,
    *,
    protected_namespaces: tuple[str, ...] = (),
    vault_suffixes: tuple[str, ...] = ("vault.azure.net",),
) -> tuple[TargetTags | None, list[Finding]]:
    """`kind` is what the resource classifies as (catalogue.classify); its tags choose the rest: the services of a
    storage account, the database, the auth type among those the target allows for AKS, the user's secret."""
    parser = _Parser(ref, tags)
    groups = parser.groups()
    namespace = parser.tags.get(NAMESPACE, "").strip() or "default"
    if not _LABEL.fullmatch(namespace):
        parser.bad(NAMESPACE, f"{_show(namespace)} is not a Kubernetes namespace name",
                   "use lower-case letters, digits and '-', at most 63 characters")  # fmt: skip
    elif namespace in protected_namespaces:
        parser.bad(NAMESPACE, f"namespace {namespace} is protected: sc-autopilot never patches or deletes there",
                   "deploy the workloads to an application namespace, or change SC_PROTECTED_NAMESPACES")  # fmt: skip
    workloads = _workloads(parser)
    entries = _entries(parser, kind)
    database = _database(parser, entries)
    auth = _auth(parser)
    client_type = _client_type(parser) if parser.tags.get(CLIENT_TYPE, "").strip() else None
    connections: list[TargetConnection] = []
    for entry in entries:
        chosen = auth or entry.auth[0]
        if chosen not in entry.auth:
            parser.bad(AUTH, f"{entry.title} does not allow {chosen.value} for an AKS source",
                       f"use one of {catalogue.auth_names(entry.auth)}")  # fmt: skip
            continue
        client = client_type or entry.default_client_type
        if client not in entry.client_types:
            parser.bad(CLIENT_TYPE, f"{entry.title} has no client type {client}",
                       f"use one of {', '.join(entry.client_types)}")  # fmt: skip
            continue
        if entry.database and database is None:
            continue  # sc-database is missing or malformed: already reported
        target_id = entry.target_id(ref.id, database)
        connections.append(TargetConnection(entry.kind, target_id, chosen, client))
    user = password_url = None
    password_tag = PASSWORD
    if any((auth or e.auth[0]) is AuthKind.SECRET and e.secret_source is SecretSource.USER for e in entries):
        user, password_url, password_tag = _user_secret(parser, vault_suffixes)
    if parser.findings and not parser.paused():
        return None, parser.findings
    tags_ = TargetTags(groups, parser.paused(), namespace, workloads, tuple(connections), user, password_url,
                       password_tag)  # fmt: skip
    return tags_, parser.findings


def _entries(parser: _Parser, kind: TargetKind) -> tuple[catalogue.Entry, ...]:
    """The catalogue entries the resource asks for: its own, or the storage services sc-service names."""
    services = catalogue.services_of(kind)
    raw = parser.tags.get(SERVICE, "").strip().lower()
    if not services:
        if raw:
            parser.bad(SERVICE, f"{catalogue.entry(kind).title} has no services to choose",
                       "remove sc-service: it is for storage accounts")  # fmt: skip
        return (catalogue.entry(kind),)
    by_name = {e.service: e for e in services}
    names = [n.strip() for n in (raw or DEFAULT_SERVICE).split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        parser.bad(SERVICE, f"{_show(unknown[0] if unknown else raw)} is not a storage service",
                   f"use one or more of {', '.join(by_name)}, comma separated")  # fmt: skip
        return ()
    return tuple(by_name[n] for n in dict.fromkeys(names))


def _database(parser: _Parser, entries: tuple[catalogue.Entry, ...]) -> str | None:
    """sc-database for targets below the tagged resource (a database, keyspace, graph, table, or Redis index)."""
    raw = parser.tags.get(DATABASE, "").strip()
    spec = next((e.database for e in entries if e.database), None)
    if spec is None:
        if raw and entries:
            parser.bad(DATABASE, f"{entries[0].title} takes no database",
                       "remove sc-database: the connection is to the whole resource")  # fmt: skip
        return None
    value = raw or spec.default
    if value is None:
        parser.bad(DATABASE, f"missing: {entries[0].title} connects to one {spec.what}",
                   f"set sc-database to the {spec.what} the app uses")  # fmt: skip
    elif not spec.pattern.fullmatch(value):
        parser.bad(DATABASE, f"{_show(value)} is not a {spec.what} name", f"set sc-database to a {spec.what}")
        return None
    return value


def _user_secret(parser: _Parser, vault_suffixes: tuple[str, ...]) -> tuple[str | None, str | None, str]:
    """sc-user and sc-password (a Key Vault secret URL, never a password); sc-sql-user/sc-sql-password are aliases.
    A finding names the tag the resource carries."""
    user, user_tag = _aliased(parser, USER, SQL_USER)
    if user is not None and not _USER.fullmatch(user):
        user = None
    if user is None:
        parser.bad(user_tag, "missing or not a user name", f"set {user_tag} to the database user the app logs in as")
    password_url, password_tag = _aliased(parser, PASSWORD, SQL_PASSWORD)
    if password_url is not None and not _is_vault_secret_url(password_url, vault_suffixes):
        password_url = None
    if password_url is None:
        parser.bad(password_tag, "must be a Key Vault secret URL, never a password",
                   f"set it to https://<vault>.{vault_suffixes[0]}/secrets/<name> and grant the app "
                   "'Key Vault Secrets User' on that vault")  # fmt: skip
    return user, password_url, password_tag


def _aliased(parser: _Parser, name: str, alias: str) -> tuple[str | None, str]:
    """The value of `name` or its alias, and the tag it came from; None when missing."""
    if alias in parser.tags and name not in parser.tags:
        return parser.tags[alias].strip() or None, alias
    value, old = parser.tags.get(name, "").strip(), parser.tags.get(alias, "").strip()
    if value and old and value != old:
        parser.bad(name, f"{name} and its alias {alias} disagree", f"keep only {name}")
        return value, name  # reported once: the resource is refused for the disagreement alone
    return value or old or None, name


def _workloads(parser: _Parser) -> tuple[WorkloadSpec, ...]:
    raw = parser.tags.get(WORKLOADS, "")
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    if len(entries) > MAX_WORKLOADS:
        parser.bad(
            WORKLOADS, f"names {len(entries)} workloads; at most {MAX_WORKLOADS}", "split the target or the group"
        )
        return ()
    specs: list[WorkloadSpec] = []
    for entry in entries:
        kind_part, _, rest = entry.partition("/")
        name, sep, container = rest.partition(":")
        kind = KIND_ALIASES.get(kind_part.strip().lower())
        if kind is None or not rest or (sep and not container):
            parser.bad(WORKLOADS, f"{_show(entry)} is not kind/name[:container]",
                       "use deployment|deploy, statefulset|sts, daemonset|ds, job or cronjob, "
                       "e.g. deployment/api:app")  # fmt: skip
        elif len(name) > 253 or not _SUBDOMAIN.fullmatch(name) or (container and not _LABEL.fullmatch(container)):
            parser.bad(WORKLOADS, f"{_show(entry)} has an invalid workload or container name",
                       "Kubernetes names are lower-case letters, digits, '-' and '.'")  # fmt: skip
        else:
            specs.append(WorkloadSpec(kind, name, container or None))
    return tuple(sorted(set(specs), key=lambda s: (s.kind, s.name, s.container or "")))


def _auth(parser: _Parser) -> AuthKind | None:
    raw = parser.tags.get(AUTH, "").strip().lower()
    if not raw:
        return None
    try:
        return AuthKind(raw)
    except ValueError:
        parser.bad(AUTH, f"{_show(raw)} is not an auth type", f"use one of {catalogue.auth_names(AuthKind)}")
        return None


def _client_type(parser: _Parser) -> str | None:
    raw = parser.tags.get(CLIENT_TYPE, "").strip()
    canonical = {c.lower(): c for c in CLIENT_TYPES}.get(raw.lower())
    if canonical is None:
        parser.bad(
            CLIENT_TYPE, f"{_show(raw)} is not a Service Connector client type", f"use one of {', '.join(CLIENT_TYPES)}"
        )
    return canonical


class SecretUrlError(ValueError):
    """The URL is not a Key Vault secret URL in an allowed vault domain."""


def split_secret_url(url: str, allowed_suffixes: tuple[str, ...]) -> tuple[str, str, str | None]:
    """(vault URL, secret name, version) of `https://<vault>.<suffix>/secrets/<name>[/<version>]`."""
    if not url.isprintable() or any(c.isspace() for c in url):  # urlsplit silently drops tabs and newlines
        raise SecretUrlError("a URL has no whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SecretUrlError("not a URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or port not in (None, 443) or parts.query or parts.fragment or "@" in parts.netloc:
        raise SecretUrlError("expected https://<vault>.vault.azure.net/secrets/<name>[/<version>]")
    vault = next((host[: -len(s) - 1] for s in allowed_suffixes if host.endswith("." + s.lower())), None)
    if not vault or not re.fullmatch(r"[a-z0-9-]{3,24}", vault):
        raise SecretUrlError(f"host {host[:100]!r} is not a vault in {', '.join(allowed_suffixes)}")
    match = _VAULT_SECRET_PATH.fullmatch(parts.path)
    if match is None:
        raise SecretUrlError("the path must be /secrets/<name>[/<version>]")
    return f"https://{host}", match.group("name"), match.group("version")


def _is_vault_secret_url(url: str, suffixes: tuple[str, ...]) -> bool:
    try:
        split_secret_url(url, suffixes)
    except SecretUrlError:
        return False
    return True


def _show(value: str) -> str:
    """Quote user input for a message, bounded and without control characters."""
    cleaned = "".join(c if c.isprintable() else "?" for c in value)
    return repr(cleaned[:80] + ("…" if len(cleaned) > 80 else ""))
