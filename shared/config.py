"""Settings from app settings / environment variables, validated once at start-up."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from croniter import croniter

from shared.core.gitops import GitOpsWiring
from shared.core.planner import DEFAULT_PROTECTED_NAMESPACES

log = logging.getLogger("sc_autopilot.config")
CLEANUP_MODES = ("report", "delete")
# Former names still read, with a warning, so an upgrade does not silently drop a cap; the infrastructure sets only
# their successors.
DEPRECATED_SETTINGS = {"SC_MAX_REMOVALS_PER_RUN": "SC_MAX_REMOVALS_PER_HOUR"}
# Read only by the CLI on a workstation (`sc-autopilot watch` stands in for the Functions host): the deployed app
# never reads them, so the infrastructure does not set them; local.settings.json.example does.
LOCAL_ONLY_SETTINGS = frozenset({"SC_WATCH_PORT"})
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting and the fix."""


@dataclass(frozen=True)
class Settings:
    subscriptions: tuple[str, ...]
    arm_endpoint: str = "https://management.azure.com"
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    dry_run: bool = False
    keyvault_dns_suffixes: tuple[str, ...] = ("vault.azure.net",)
    lro_poll_seconds: float = 5.0
    sweep_schedule: str = "0 0 * * * *"
    wire_schedule: str = "0 */5 * * * *"  # SC_WIRE_SCHEDULE: wire_timer, for workloads deployed after their tags
    orphan_grace_hours: float = 24.0
    cleanup_mode: str = "report"
    max_deletions_per_run: int = 20
    # the removal circuit breaker: removals the whole app may make in any sliding hour; more are held
    max_removals_per_hour: int = 20
    max_rollouts_per_run: int = 50  # consumers rolled onto changed secret content per run; the rest are requeued
    secret_expiry_warning_days: float = 14.0  # SECRET_NEAR_EXPIRY this long before a Key Vault version's exp
    validate_budget: int = 50
    validate_every_hours: int = 24
    concurrency: int = 16
    http_timeout_seconds: float = 60.0  # connect and read timeout of every ARM, Key Vault and Kubernetes call
    retry_base_seconds: float = 1.0  # first backoff of the retry policies (then doubling; Retry-After wins)
    managed_identity_client_id: str | None = None
    retry_refused: bool = True  # a Kubernetes connection refused is retried; the CLI (not watch) fails it at once
    watch_port: int = 7071  # sc-autopilot watch listens here (the Functions host port; make emulator delivers)
    gitops_wiring: GitOpsWiring = GitOpsWiring.SUGGEST  # SC_GITOPS_WIRING: suggest (commit this) or patch
    revert_window_hours: float = 24.0  # SC_REVERT_WINDOW_HOURS: two reverts of our wiring within it stop re-patching

    arm_audience: str | None = None  # the token audience for ARM; None: the endpoint itself (public, sovereign)

    @property
    def arm_scope(self) -> str:
        return f"{(self.arm_audience or self.arm_endpoint).rstrip('/')}/.default"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        subscriptions = _csv(env.get("SC_SUBSCRIPTIONS", ""))
        if not subscriptions:
            raise ConfigError(
                "SC_SUBSCRIPTIONS is not set: list the subscription ids sc-autopilot may manage, comma separated."
            )
        for subscription in subscriptions:
            if not _GUID.match(subscription):
                raise ConfigError(f"SC_SUBSCRIPTIONS: {subscription!r} is not a subscription id (a GUID).")
        cleanup_mode = env.get("SC_CLEANUP_MODE", "report").strip().lower()
        if cleanup_mode not in CLEANUP_MODES:
            raise ConfigError(f"SC_CLEANUP_MODE must be one of {', '.join(CLEANUP_MODES)}, not {cleanup_mode!r}.")
        schedule = _schedule(env, "SC_SWEEP_SCHEDULE", cls.sweep_schedule, "'0 0 * * * *' hourly")
        wire_schedule = _schedule(env, "SC_WIRE_SCHEDULE", cls.wire_schedule, "'0 */5 * * * *' every 5 minutes")
        arm_endpoint = env.get("SC_ARM_ENDPOINT", cls.arm_endpoint).strip().rstrip("/")
        if not arm_endpoint.lower().startswith("https://") or len(arm_endpoint) <= len("https://"):
            raise ConfigError(
                f"SC_ARM_ENDPOINT {arm_endpoint!r} is not an https:// URL (e.g. https://management.azure.com): "
                "tokens are only ever sent over TLS."
            )
        protected = _csv(env.get("SC_PROTECTED_NAMESPACES", ",".join(DEFAULT_PROTECTED_NAMESPACES)))
        gitops = env.get("SC_GITOPS_WIRING", GitOpsWiring.SUGGEST).strip().lower()
        if gitops not in tuple(GitOpsWiring):
            raise ConfigError(
                f"SC_GITOPS_WIRING must be suggest (report the wiring to commit for workloads a GitOps tool applies) "
                f"or patch (patch them anyway), not {gitops!r}."
            )
        return cls(
            subscriptions=tuple(s.lower() for s in subscriptions),
            arm_endpoint=arm_endpoint,
            arm_audience=env.get("SC_ARM_AUDIENCE") or None,
            protected_namespaces=tuple(protected),
            dry_run=_bool(env, "SC_DRY_RUN", False),
            keyvault_dns_suffixes=_dns_suffixes(env.get("SC_KEYVAULT_DNS_SUFFIXES", "vault.azure.net")),
            lro_poll_seconds=_number(env, "SC_LRO_POLL_SECONDS", 5.0, minimum=0),
            sweep_schedule=schedule,
            wire_schedule=wire_schedule,
            orphan_grace_hours=_number(env, "SC_ORPHAN_GRACE_HOURS", 24.0, minimum=0),
            cleanup_mode=cleanup_mode,
            max_deletions_per_run=int(_number(env, "SC_MAX_DELETIONS_PER_RUN", 20, minimum=0)),
            max_removals_per_hour=_removals_per_hour(env),
            secret_expiry_warning_days=_number(env, "SC_SECRET_EXPIRY_WARNING_DAYS", 14.0, minimum=0),
            max_rollouts_per_run=int(_number(env, "SC_MAX_ROLLOUTS_PER_RUN", 50, minimum=0)),
            validate_budget=int(_number(env, "SC_VALIDATE_BUDGET", 50, minimum=0)),
            validate_every_hours=int(_number(env, "SC_VALIDATE_EVERY_HOURS", 24, minimum=1)),
            concurrency=int(_number(env, "SC_CONCURRENCY", 16, minimum=1)),
            http_timeout_seconds=_number(env, "SC_HTTP_TIMEOUT_SECONDS", 60.0, minimum=0.1),
            retry_base_seconds=_number(env, "SC_RETRY_BASE_SECONDS", 1.0, minimum=0),
            managed_identity_client_id=env.get("AZURE_CLIENT_ID") or None,
            watch_port=int(_number(env, "SC_WATCH_PORT", 7071, minimum=1)),
            gitops_wiring=GitOpsWiring(gitops),
            revert_window_hours=_number(env, "SC_REVERT_WINDOW_HOURS", 24.0, minimum=0),
        )


def _removals_per_hour(env: Mapping[str, str]) -> int:
    """SC_MAX_REMOVALS_PER_HOUR; the former SC_MAX_REMOVALS_PER_RUN (per invocation, which a storm over many
    invocations never tripped) is still read when the new name is absent, as the hourly budget, with a warning."""
    if env.get("SC_MAX_REMOVALS_PER_HOUR", "").strip() or not env.get("SC_MAX_REMOVALS_PER_RUN", "").strip():
        return int(_number(env, "SC_MAX_REMOVALS_PER_HOUR", 20, minimum=0))
    log.warning(
        "SC_MAX_REMOVALS_PER_RUN is deprecated: its value is used as SC_MAX_REMOVALS_PER_HOUR, the removal budget of "
        "the whole app over a sliding hour; rename the setting (docs/operations.md, 'Budgets')."
    )
    return int(_number(env, "SC_MAX_REMOVALS_PER_RUN", 20, minimum=0))


def _schedule(env: Mapping[str, str], name: str, default: str, example: str) -> str:
    schedule = env.get(name, default).strip()
    if len(schedule.split()) != 6 or not croniter.is_valid(schedule, second_at_beginning=True):
        raise ConfigError(
            f"{name} {schedule!r} is not an NCRONTAB expression: six fields, seconds first (e.g. {example})."
        )
    return schedule


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _dns_suffixes(value: str) -> tuple[str, ...]:
    """Vault host suffixes without a leading dot: Bicep's environment().suffixes.keyvaultDns is '.vault.azure.net',
    and the tag check compares against host.endswith('.' + suffix)."""
    suffixes = tuple(dict.fromkeys(part.lstrip(".").lower() for part in _csv(value) if part.lstrip(".")))
    if not suffixes:
        raise ConfigError(
            f"SC_KEYVAULT_DNS_SUFFIXES {value!r} names no DNS suffix: list the Key Vault DNS suffixes of your cloud, "
            "comma separated (e.g. 'vault.azure.net')."
        )
    return suffixes


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {raw!r}.")
    return value


@dataclass(frozen=True)
class StorageSettings:
    """The Functions storage (queues, report blobs): a connection string (Azurite), or identity-based service URIs
    (`__blobServiceUri`/`__queueServiceUri`, any cloud), or `__accountName` (public cloud only)."""

    connection_string: str | None = None
    blob_service_uri: str | None = None
    queue_service_uri: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StorageSettings:
        env = os.environ if env is None else env
        prefix = "AzureWebJobsStorage"
        client_id = env.get(f"{prefix}__clientId") or env.get("AZURE_CLIENT_ID") or None
        if env.get(prefix):
            return cls(connection_string=env[prefix])
        blob, queue = env.get(f"{prefix}__blobServiceUri"), env.get(f"{prefix}__queueServiceUri")
        if blob and queue:
            return cls(blob_service_uri=blob.rstrip("/"), queue_service_uri=queue.rstrip("/"), client_id=client_id)
        account = env.get(f"{prefix}__accountName")
        if account:
            return cls(
                blob_service_uri=f"https://{account}.blob.core.windows.net",
                queue_service_uri=f"https://{account}.queue.core.windows.net",
                client_id=client_id,
            )
        raise ConfigError(
            f"{prefix} is not set: give a connection string, or {prefix}__blobServiceUri and "
            f"{prefix}__queueServiceUri for identity-based storage."
        )


@dataclass(frozen=True)
class TelemetrySettings:
    connection_string: str | None = None  # APPLICATIONINSIGHTS_CONNECTION_STRING; None: telemetry is a no-op
    client_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelemetrySettings:
        env = os.environ if env is None else env
        return cls(env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None, env.get("AZURE_CLIENT_ID") or None)
