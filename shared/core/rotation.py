"""Secret rotation, pure: which Key Vault version a connection's secret holds against the vault's current one, the
content digest that rolls a consumer exactly when its secrets' content changed, and whether that rollout finished.

Nothing here sees a secret value: the adapters hand over HMAC digests computed in memory and the version metadata
Key Vault lists (never a value)."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from urllib.parse import urlsplit

from shared.core.codes import Code, Finding
from shared.core.manifests import pod_template, template_path
from shared.core.model import AuthKind, ClusterState, Intent, VaultVersion
from shared.core.plan import Defer, Plan, RewireWorkload

# On the connection's Kubernetes secret: the Key Vault version its value came from (a versioned secret id).
VERSION_ANNOTATION = "sc-autopilot.io/keyvault-secret"
# On a consumer's pod template: the digest of the content of our secrets it reads. A change is a rollout.
DIGEST_ANNOTATION = "sc-autopilot.io/secret-digest"
# On a consumer's metadata: when we last changed the template's digest (the start of its rollout onto the secret).
ROLLED_AT_ANNOTATION = "sc-autopilot.io/secret-rolled-at"
# Kinds whose running pods keep the values they started with; a Job or a CronJob's next pod reads them afresh.
ROLLING_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600  # the Deployment default, applied to StatefulSets and DaemonSets too
DEFAULT_EXPIRY_WARNING_DAYS = 14


def secret_key(vault_url: str, name: str) -> tuple[str, str]:
    """How a secret is known whatever the URL's spelling: Key Vault names are case-insensitive."""
    return vault_url.lower().rstrip("/"), name.lower()


def current_version(versions: list[VaultVersion], now: datetime) -> VaultVersion | None:
    """The version Key Vault serves for the unversioned URL: the newest enabled one already valid (nbf)."""
    usable = [(i, v) for i, v in enumerate(versions) if v.enabled and (v.not_before is None or v.not_before <= now)]
    if not usable:
        return None
    oldest = datetime.min.replace(tzinfo=now.tzinfo)
    # Key Vault's `created` has one-second resolution: within a second, the later one listed
    return max(usable, key=lambda item: (item[1].created or oldest, item[0]))[1]


def recorded_version(secret_metadata: dict | None) -> str | None:
    """The version id our connection's secret says it holds (its annotation), None when it records none."""
    annotations = (secret_metadata or {}).get("annotations") or {}
    recorded = annotations.get(VERSION_ANNOTATION, "")
    return recorded.rstrip("/").rsplit("/", 1)[-1] or None


class Freshness(Enum):
    CURRENT = "current"
    BEHIND = "behind"  # the vault has a newer enabled version: re-put
    UNRECORDED = "unrecorded"  # put before versions were recorded (or the record was wiped): re-put once


def freshness(recorded: str | None, current: VaultVersion) -> Freshness:
    if recorded is None:
        return Freshness.UNRECORDED
    return Freshness.CURRENT if recorded == current.version else Freshness.BEHIND


class Expiry(Enum):
    VALID = "valid"
    NEAR = "near"
    EXPIRED = "expired"


def expiry(version: VaultVersion, now: datetime, warning: timedelta) -> Expiry:
    if version.expires is None:
        return Expiry.VALID
    if version.expires <= now:
        return Expiry.EXPIRED
    return Expiry.NEAR if version.expires - now <= warning else Expiry.VALID


# -- the digest ------------------------------------------------------------------------------------------
def combined_digest(secrets: list[str], digests: dict[str, str]) -> str | None:
    """One digest over the content digests of `secrets` (the consumer's own), None when one is unknown: a
    consumer is rolled only on what is known to have changed."""
    if not secrets or any(name not in digests for name in secrets):
        return None
    material = "\n".join(f"{name}={digests[name]}" for name in sorted(set(secrets)))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def stamp_digest(before: dict, after: dict, digest: str | None) -> dict:
    """`after` (the manifest as rewired from `before`) carrying `digest`, rolling out only when content changed.

    The template's annotation is what rolls pods. A consumer that never carried one (wired before digests were
    recorded) gets a baseline on its metadata instead, which rolls nothing; a later different digest moves into the
    template (one rollout). When the rewire changes the template anyway, the digest rides along with it."""
    if digest is None or after["kind"] not in ROLLING_KINDS:
        return after
    result = copy.deepcopy(after)
    template = _template(result)
    metadata = result.setdefault("metadata", {})
    in_template = ((template.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    baseline = (metadata.get("annotations") or {}).get(DIGEST_ANNOTATION)
    if pod_template(before) != pod_template(after) or in_template is not None or baseline not in (None, digest):
        # the template changes anyway, carries a digest, or the baseline says the content changed since: roll
        template.setdefault("metadata", {}).setdefault("annotations", {})[DIGEST_ANNOTATION] = digest
        if baseline is not None:
            del metadata["annotations"][DIGEST_ANNOTATION]
    elif baseline is None:  # wired before digests were recorded: a baseline, which rolls nothing
        metadata.setdefault("annotations", {})[DIGEST_ANNOTATION] = digest
    return result


def mark_rolled(before: dict, after: dict, at: str) -> dict:
    """Record when the template's digest changed (the executor stamps the time at which it writes)."""
    if _template_digest(before) == _template_digest(after) or _template_digest(after) is None:
        return after
    result = copy.deepcopy(after)
    result.setdefault("metadata", {}).setdefault("annotations", {})[ROLLED_AT_ANNOTATION] = at
    return result


def rolls_out(before: dict, after: dict) -> bool:
    """A running consumer moves onto changed secret content: it carried a digest, and the template's changes (a
    first wiring rolls too, but that is the wiring's own doing)."""
    return digest_of(before) is not None and _template_digest(before) != _template_digest(after)


def digest_of(manifest: dict) -> str | None:
    """The digest the consumer's pods run with (the template's), else its baseline."""
    return _template_digest(manifest) or ((manifest.get("metadata") or {}).get("annotations") or {}).get(
        DIGEST_ANNOTATION
    )


def _template_digest(manifest: dict) -> str | None:
    return ((pod_template(manifest).get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)


def _template(manifest: dict) -> dict:
    node = manifest
    for key in template_path(manifest["kind"]):
        node = node.setdefault(key, {})
    return node


# -- the rollout ------------------------------------------------------------------------------------------
class Rollout(Enum):
    COMPLETE = "Complete"
    PENDING = "Pending"
    STUCK = "Stuck"


@dataclass(frozen=True)
class RolloutState:
    state: Rollout
    message: str
    rolled_at: str | None = None  # when we last rolled it onto the secret (ROLLED_AT_ANNOTATION)


def rollout_state(manifest: dict, now: datetime) -> RolloutState:
    """What the workload's controller reports about its latest template, as `kubectl rollout status` reads it
    (kubectl pkg/polymorphichelpers/rollout_status.go, docs/FACTS.md section 10):
    a Deployment by observedGeneration, updated/available replicas and its Progressing condition (past
    progressDeadlineSeconds: ProgressDeadlineExceeded); a StatefulSet by updateRevision vs currentRevision; a
    DaemonSet by updatedNumberScheduled. Those two have no deadline of their own: the Deployment default counts
    from when we rolled them."""
    kind = manifest["kind"]
    meta = manifest.get("metadata") or {}
    spec, status = manifest.get("spec") or {}, manifest.get("status") or {}
    rolled_at = (meta.get("annotations") or {}).get(ROLLED_AT_ANNOTATION)
    name = f"{kind.lower()}/{meta.get('name', '?')}"
    if kind not in ROLLING_KINDS:
        return RolloutState(Rollout.COMPLETE, f"{name}: its next pod reads the secret afresh", rolled_at)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return _waiting(name, "the controller has not observed the change yet", spec, rolled_at, now)
    replicas = spec.get("replicas", 1)
    if kind == "Deployment":
        progressing = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {})
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            return RolloutState(Rollout.STUCK, f"{name}: {progressing.get('message') or 'ProgressDeadlineExceeded'}",
                                rolled_at)  # fmt: skip
        updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
        total = status.get("replicas", 0)
        if updated < replicas or total > updated or available < updated:
            detail = f"{updated} of {replicas} updated, {available} available"
            return RolloutState(Rollout.PENDING, f"{name}: {detail}", rolled_at)
        return RolloutState(Rollout.COMPLETE, f"{name}: {updated} of {replicas} updated and available", rolled_at)
    if kind == "StatefulSet":
        update, current = status.get("updateRevision"), status.get("currentRevision")
        if not status.get("observedGeneration"):
            return _waiting(name, "the controller has not observed it yet", spec, rolled_at, now)
        if status.get("readyReplicas", 0) < replicas:
            detail = f"{replicas - status.get('readyReplicas', 0)} pod(s) not ready"
            return _waiting(name, detail, spec, rolled_at, now)
        if update and update != current:
            detail = f"{status.get('updatedReplicas', 0)} of {replicas} on revision {update}"
            return _waiting(name, detail, spec, rolled_at, now)
        return RolloutState(Rollout.COMPLETE, f"{name}: every pod on revision {current}", rolled_at)
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    if updated < desired or status.get("numberAvailable", 0) < desired:
        return _waiting(name, f"{updated} of {desired} pods updated", spec, rolled_at, now)
    return RolloutState(Rollout.COMPLETE, f"{name}: {updated} of {desired} pods updated", rolled_at)


def _waiting(name: str, detail: str, spec: dict, rolled_at: str | None, now: datetime) -> RolloutState:
    """Pending, or stuck once the deadline has passed since we rolled it (without our record: pending)."""
    deadline = timedelta(seconds=spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS))
    started = _parse_time(rolled_at)
    if started is not None and now - started > deadline:
        return RolloutState(Rollout.STUCK, f"{name}: {detail}, still not done {int(deadline.total_seconds())} s "
                                           f"after it was rolled at {rolled_at}", rolled_at)  # fmt: skip
    return RolloutState(Rollout.PENDING, f"{name}: {detail}", rolled_at)


def _parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


# -- one connection's secret against its vault -------------------------------------------------------------
def password_url(intent: Intent) -> str | None:
    """The Key Vault secret URL whose value the connection carries (the one place that names the tag's field)."""
    return intent.password_url if intent.auth is AuthKind.SECRET else None


@dataclass(frozen=True)
class SecretCheck:
    """A connection's secret against its vault: the version it records, the one it should hold (the pinned one, or
    the vault's current enabled version), and whether the vault could be read at all."""

    url: str
    vault_url: str
    name: str
    pinned: str | None
    recorded: str | None
    wanted: VaultVersion | None
    latest: VaultVersion | None
    readable: bool

    @property
    def behind(self) -> bool:
        return self.wanted is not None and self.recorded != self.wanted.version

    @property
    def held(self) -> VaultVersion | None:
        """The version the secret holds, as far as the vault's listing knows it."""
        return next((v for v in self.versions if v.version == self.recorded), None)

    versions: tuple[VaultVersion, ...] = ()


def split_url(url: str) -> tuple[str, str, str | None]:
    """(vault URL, secret name, pinned version) of a secret URL the tag parser already validated."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s] + ["", ""]
    return f"https://{(parts.hostname or '').lower()}", segments[1], segments[2] or None


def check_secret(intent: Intent, actual: ClusterState) -> SecretCheck | None:
    url = password_url(intent)
    if not url:
        return None
    vault_url, name, pinned = split_url(url)
    key = secret_key(vault_url, name)
    if key not in actual.vault_versions:  # not looked at (a plan made without the vault): nothing to say
        return None
    versions = actual.vault_versions[key]
    metadata = actual.metadata.get(("Secret", intent.namespace, intent.secret_name))
    recorded = recorded_version(metadata)
    if versions is None:
        return SecretCheck(url, vault_url, name, pinned, recorded, None, None, readable=False)
    now = actual.observed_at or datetime.now(UTC)
    latest = current_version(list(versions), now)
    wanted = next((v for v in versions if v.version == pinned), None) if pinned else latest
    return SecretCheck(url, vault_url, name, pinned, recorded, wanted, latest, True, versions)


def secret_findings(check: SecretCheck, intent: Intent, now: datetime, warning: timedelta) -> list[Finding]:
    """What the operator should know about the version in use: pinned while the vault moved on, near expiry,
    expired."""
    findings = []
    if check.pinned and check.latest is not None and check.latest.version != check.pinned:
        findings.append(Finding(
            Code.SECRET_PINNED, intent.tagged.id,
            f"{check.url} names version {check.pinned}: pinned, never rotated (the vault's current version is "
            f"{check.latest.version})",
            f"to follow rotations, set the tag to the unversioned URL {check.vault_url}/secrets/{check.name}",
            intent.password_tag,
        ))  # fmt: skip
    version = check.wanted
    if version is not None and (state := expiry(version, now, warning)) is not Expiry.VALID:
        code = Code.SECRET_EXPIRED if state is Expiry.EXPIRED else Code.SECRET_NEAR_EXPIRY
        when = "expired" if state is Expiry.EXPIRED else "expires"
        findings.append(Finding(
            code, intent.tagged.id,
            f"Key Vault secret {check.vault_url}/secrets/{check.name} version {version.version} {when} at "
            f"{version.expires.isoformat()}",
            "rotate it (docs/operations.md, Rotating a password): a new version with its sc-targets, then "
            "sc-autopilot re-puts the connection and rolls out its consumers",
            intent.password_tag,
        ))  # fmt: skip
    return findings


def stale_message(check: SecretCheck) -> str:
    held = f"version {check.recorded}" if check.recorded else "no recorded version"
    which = "pinned" if check.pinned else "current"
    return f"secret holds {held}; Key Vault's {which} version is {check.wanted.version}"


ROLLOUT_HELD_RETRY_SECONDS = 60


def hold_rollouts(plan: Plan, left: int) -> tuple[Plan, int]:
    """The run's rollout allowance (SC_MAX_ROLLOUTS_PER_RUN): the plan's first `left` rollouts onto changed secret
    content go ahead; the others wait for a later run (a Defer requeues the cluster) with ROLLOUTS_HELD. -> (the plan,
    how many rollouts it spends)."""
    rolls = [a for a in plan.actions if isinstance(a, RewireWorkload) and a.rolls]
    if len(rolls) <= left:
        return plan, len(rolls)
    held = rolls[left:]
    waits = tuple(Defer(plan.cluster, f"rollout of {a.workload} held: the run's SC_MAX_ROLLOUTS_PER_RUN is spent",
                        ROLLOUT_HELD_RETRY_SECONDS, workload=a.workload) for a in held)  # fmt: skip
    note = Finding(Code.ROLLOUTS_HELD, plan.cluster.id,
                   f"{len(held)} rollout(s) onto changed secret content held: the run rolled its "
                   "SC_MAX_ROLLOUTS_PER_RUN already", "nothing: the cluster is requeued and a later run rolls them "
                   "(raise SC_MAX_ROLLOUTS_PER_RUN to roll more at once)")  # fmt: skip
    kept = tuple(a for a in plan.actions if a not in held)
    return Plan(plan.cluster, kept + waits, (*plan.findings, note)), left
