"""The heart: desired state (from tags) + actual state (from ARM and the cluster) -> a Plan. Pure: no I/O.

Safety rules live here, where they can be proven by tests: only `scap_` linkers and the objects derived
from them are ever changed or deleted; paused or mis-tagged targets are held (left exactly as they are);
protected namespaces are never touched; workloads are wired only once their secret exists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from shared.core import catalogue, consent, naming, rotation
from shared.core.catalogue import SecretSource
from shared.core.codes import Code, Finding, ReadFailure
from shared.core.gitops import GitOpsWiring, gitops_owner, snippet
from shared.core.ids import ResourceRef
from shared.core.manifests import (
    WI_LABEL,
    carries,
    env_from_secrets,
    env_names,
    pod_spec,
    pod_template,
    read_wirings,
    rewire,
    secret_references,
    service_account_of,
)
from shared.core.model import (
    AuthKind,
    ClusterInfo,
    ClusterState,
    Connection,
    IdentityInfo,
    Intent,
    ObjectKind,
    TargetInfo,
    TargetKind,
    Wiring,
    WorkloadRef,
    WorkloadState,
)
from shared.core.plan import (
    Action,
    Defer,
    DeleteLinker,
    DeleteObject,
    Plan,
    PutLinker,
    RegisterProvider,
    RewireWorkload,
    is_destructive,
    is_removal,
    put_linker_id,
)
from shared.core.reverts import reverted_finding, stopped
from shared.core.tags import TargetConnection, TargetTags, parse_cluster_tags, parse_target_tags

DEFAULT_PROTECTED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "sc-system", "gatekeeper-system")
REQUIRED_PROVIDERS = ("Microsoft.ServiceLinker", "Microsoft.KubernetesConfiguration")
NOT_READY_RETRY_SECONDS = 120
LINKER_SETTLING_RETRY_SECONDS = 30
ROLLOUT_RETRY_SECONDS = 30


@dataclass(frozen=True)
class PlannerSettings:
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    vault_suffixes: tuple[str, ...] = ("vault.azure.net",)
    managed_subscriptions: frozenset[str] = frozenset()  # lower-case SC_SUBSCRIPTIONS
    gitops_wiring: GitOpsWiring = GitOpsWiring.SUGGEST  # SC_GITOPS_WIRING
    expiry_warning: timedelta = timedelta(days=rotation.DEFAULT_EXPIRY_WARNING_DAYS)


@dataclass(frozen=True)
class Desired:
    """What the tags ask of one cluster."""

    cluster: ResourceRef
    intents: tuple[Intent, ...] = ()
    held_targets: frozenset[ResourceRef] = frozenset()  # paused, mis-tagged or refused: leave their wiring alone
    hold_cluster: bool = False  # the cluster itself is paused or mis-tagged
    findings: tuple[Finding, ...] = ()
    # reads this desired state depends on that failed (a subscription's tag listing, an identity): the plan then
    # holds everything destructive, since what looks unwanted may only be unseen
    failed_reads: tuple[ReadFailure, ...] = ()
    refused_targets: frozenset[ResourceRef] = frozenset()  # held for a missing consent (released by the orphan rules)


@dataclass(frozen=True)
class ParsedTarget:
    info: TargetInfo
    tags: TargetTags | None  # None: mis-tagged
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class ParsedTargets:
    """Every tagged target's tags parsed once, deduplicated, in id order: a run plans each of its clusters against
    the same targets, so it parses them once (parse_targets), not once per cluster."""

    items: tuple[ParsedTarget, ...]


def parse_targets(targets: Iterable[TargetInfo], settings: PlannerSettings) -> ParsedTargets:
    unique = sorted({t.ref: t for t in targets}.values(), key=lambda t: t.ref)
    return ParsedTargets(tuple(ParsedTarget(t, *_parsed_tags(t, settings)) for t in unique))


def _parsed_tags(target: TargetInfo, settings: PlannerSettings) -> tuple[TargetTags | None, tuple[Finding, ...]]:
    try:
        key = tuple(sorted(target.tags.items()))
        hash(key)
    except (AttributeError, TypeError):  # not a mapping of strings: parsed (and refused) without the memo
        tags, findings = parse_target_tags(target.ref, target.kind, target.tags,
                                           protected_namespaces=settings.protected_namespaces,
                                           vault_suffixes=settings.vault_suffixes)  # fmt: skip
        return tags, tuple(findings)
    return _memoised_parse(target.ref, target.kind, key, settings.protected_namespaces, settings.vault_suffixes)


@functools.lru_cache(maxsize=16384)
def _memoised_parse(
    ref: ResourceRef, kind: TargetKind, tags: tuple[tuple[str, str], ...], protected: tuple[str, ...],
    suffixes: tuple[str, ...],
) -> tuple[TargetTags | None, tuple[Finding, ...]]:  # fmt: skip
    """A target's tags change far less often than they are read (every event's listing reads the estate again): an
    instance parses only what changed, not 300 targets (12 ms) per event. Pure, and its answers are immutable."""
    parsed, findings = parse_target_tags(ref, kind, dict(tags), protected_namespaces=protected,
                                         vault_suffixes=suffixes)  # fmt: skip
    return parsed, tuple(findings)


def desired_state(
    actual: ClusterState,
    targets: Iterable[TargetInfo] | ParsedTargets,
    identities: dict[ResourceRef, IdentityInfo | None],
    settings: PlannerSettings,
    failed_reads: tuple[ReadFailure, ...] = (),
) -> Desired:
    """A cluster and a target sharing an `sc-group` are connected only when every owner reached consents (the
    target to the cluster, the namespace to the target, the identity to the cluster and namespace). `targets`:
    the run's, parsed once (parse_targets), or as listed."""
    if not isinstance(targets, ParsedTargets):
        targets = parse_targets(targets, settings)
    cluster = actual.info
    cluster_tags, findings = parse_cluster_tags(cluster.ref, cluster.tags)
    if cluster_tags is None or cluster_tags.paused:
        if cluster_tags is not None:
            findings.append(
                _finding(
                    Code.PAUSED,
                    cluster.ref,
                    "sc-pause=true: left alone",
                    "remove the sc-pause tag to resume",
                    "sc-pause",
                )
            )
        return Desired(cluster.ref, hold_cluster=True, findings=tuple(findings), failed_reads=failed_reads)
    intents: list[Intent] = []
    held: set[ResourceRef] = set()
    refused: set[ResourceRef] = set()
    for parsed in targets.items:
        target, target_tags = parsed.info, parsed.tags
        findings += parsed.findings
        if target_tags is None or target_tags.paused:
            held.add(target.ref)
            continue
        if not target_tags.groups & cluster_tags.groups:
            continue
        identity, refusals = None, []
        if any(c.auth is AuthKind.WORKLOAD_IDENTITY for c in target_tags.connections):
            identity_ref = cluster_tags.identity
            outside = identity_ref and consent.identity_in_scope(
                identity_ref, cluster.ref, settings.managed_subscriptions
            )
            if outside:
                refusals.append(outside)
            else:
                identity = identities.get(identity_ref)  # None without the tag too
                if identity is None:
                    unread = any(ResourceRef(f.resource_id) == identity_ref for f in failed_reads)
                    if not unread:  # a failed read is reported as READ_FAILED, not as a missing identity
                        findings.append(_identity_missing(cluster, target, identity_ref))
                    held.add(target.ref)
                    continue
        refusals += _refusals(actual, target, target_tags.namespace, identity)
        if refusals:
            findings += refusals
            held.add(target.ref)  # what exists stays exactly as it is; every run reports the missing consent
            refused.add(target.ref)
            continue
        for wanted in target_tags.connections:
            intents.append(_intent(actual, target, target_tags, wanted, identity))
            wi = identity is not None and wanted.auth is AuthKind.WORKLOAD_IDENTITY
            if wi and catalogue.entry(wanted.kind).contained_db_user:
                findings.append(_db_user_required(target, identity))
    return Desired(
        cluster.ref,
        tuple(intents),
        frozenset(held),
        findings=tuple(findings),
        failed_reads=failed_reads,
        refused_targets=frozenset(refused),
    )


def _intent(
    actual: ClusterState, target: TargetInfo, tags: TargetTags, wanted: TargetConnection, identity: IdentityInfo | None
) -> Intent:
    """One connection a tagged resource asks for, named from Service Connector's target id."""
    target_ref = ResourceRef(wanted.target_id)
    linker = _linker_name(actual, target_ref, tags.namespace)
    wi = wanted.auth is AuthKind.WORKLOAD_IDENTITY
    user_secret = wanted.auth is AuthKind.SECRET and catalogue.entry(wanted.kind).secret_source is SecretSource.USER
    return Intent(
        cluster=actual.info.ref,
        target=target_ref,
        target_kind=wanted.kind,
        namespace=tags.namespace,
        auth=wanted.auth,
        client_type=wanted.client_type,
        workloads=tags.workloads,
        linker_name=linker,
        secret_name=naming.secret_name(linker),
        identity=identity if wi else None,
        service_account=naming.service_account_name(identity.client_id) if wi and identity else None,
        user=tags.user if user_secret else None,
        password_url=tags.password_url if user_secret else None,
        password_tag=tags.password_tag,
        resource=None if target_ref == target.ref else target.ref,
    )


def tagged_ref(target_id: str) -> ResourceRef | None:
    """The tagged resource a linker's target id belongs to (itself for a type the catalogue does not know)."""
    return _ref_or_none(catalogue.tagged_id(target_id) or target_id)


def _refusals(actual: ClusterState, target: TargetInfo, namespace: str, identity: IdentityInfo | None) -> list[Finding]:
    """Every consent this connection lacks (all of them, so one run tells each owner what to grant)."""
    cluster = actual.info.ref
    checks = [
        consent.target_to_cluster(target.ref, target.tags, cluster),
        consent.namespace_admits(actual.namespaces, namespace, target.ref, cluster),
    ]
    if identity is not None:
        checks.append(consent.identity_admits(identity.ref, identity.tags, cluster, namespace))
    return [finding for finding in checks if finding is not None]


def _linker_name(actual: ClusterState, target: ResourceRef, namespace: str) -> str:
    """The 64-bit name, unless a linker of ours already exists under the 40-bit name given before: it keeps
    its name, so its secret (which running pods read) is never deleted and re-created by a rename."""
    legacy = naming.legacy_linker_name(target, namespace)
    if any(c.name == legacy and naming.is_ours(c) for c in actual.connections):
        return legacy
    return naming.linker_name(target, namespace)


def plan_cluster(
    desired: Desired, actual: ClusterState, settings: PlannerSettings, release: frozenset[str] = frozenset()
) -> Plan:
    """`release`: linkers held for a missing consent that the orphan rules (grace period, SC_CLEANUP_MODE=delete,
    the per-run cap) now let go; they are removed like any unwanted linker. Nothing else held is ever removed."""
    findings = list(desired.findings)
    if desired.hold_cluster:
        return Plan(desired.cluster, (), tuple(findings))
    if actual.info.provisioning_state != "Succeeded":
        findings.append(
            _finding(
                Code.CLUSTER_NOT_READY,
                desired.cluster,
                f"the cluster is {actual.info.provisioning_state}; Service Connector fails on a busy cluster",
                "nothing to do: sc-autopilot retries once the cluster is Succeeded",
            )
        )
        reason = f"cluster is {actual.info.provisioning_state}"
        return Plan(desired.cluster, (Defer(desired.cluster, reason, NOT_READY_RETRY_SECONDS),), tuple(findings))

    actions: list[Action] = []
    connections = {c.name: c for c in actual.connections}
    if desired.intents:
        subscription = desired.cluster.subscription_id
        for namespace in REQUIRED_PROVIDERS:
            if actual.providers.get(namespace.lower(), "NotRegistered") != "Registered":
                actions.append(RegisterProvider(subscription, namespace))
    ready: set[str] = set()
    for intent in desired.intents:
        connection = connections.get(intent.linker_name)
        if connection is not None and not naming.is_ours(connection):
            findings.append(_name_taken(intent, connection))
        elif connection is not None and connection.settling:  # a PUT now would race the running operation
            reason = f"linker {connection.name} is {connection.provisioning_state}"
            actions.append(Defer(desired.cluster, reason, LINKER_SETTLING_RETRY_SECONDS, connection.name))
        elif reason := _linker_drift(intent, connection, actual):
            check = rotation.check_secret(intent, actual)
            version = check.wanted.version if check and check.wanted else None
            registrations = tuple(a.id for a in actions if isinstance(a, RegisterProvider))
            actions.append(PutLinker(intent, reason, replaces=connection is not None, version=version,
                                     requires=registrations))  # fmt: skip
        elif rotate := _rotation(intent, actual, settings, findings):
            actions.append(rotate)
        else:
            ready.add(intent.linker_name)

    intended = {i.linker_name for i in desired.intents}
    unwanted = [c for c in actual.connections if naming.is_ours(c) and c.name not in intended]
    held_linkers = {c.name for c in unwanted if _left_alone(c, desired, settings, release)}
    removed = [c for c in unwanted if c.name not in held_linkers]

    # wiring we recorded for a linker that is no longer ours (its target or scope was edited) stays as it is too;
    # the wirings one pass applies (linkers whose secret exists), and those the run's next pass applies once the
    # linkers put now have their secrets: both are planned, so the plan shows every write `apply` makes.
    foreign = {c.name for c in actual.connections if not naming.is_ours(c)}
    put = {a.intent.linker_name for a in actions if isinstance(a, PutLinker)}
    final_wirings, _ = _workload_wirings(desired, actual, ready, held_linkers | foreign, settings)
    later_wirings, wiring_findings = _workload_wirings(desired, actual, ready | put, held_linkers | foreign, settings)
    findings += wiring_findings
    rewired: dict[WorkloadRef, dict] = {}
    for ref in sorted(final_wirings.keys() | later_wirings.keys()):
        state = actual.workloads[ref]
        if settings.gitops_wiring is GitOpsWiring.SUGGEST and gitops_owner(state.manifest):
            findings += _gitops_managed(desired.cluster, state, later_wirings.get(ref, {}))  # never patched
            continue
        if ref in final_wirings and (history := stopped(state.manifest, final_wirings[ref])):
            findings.append(reverted_finding(desired.cluster.id, ref, state.manifest, history, final_wirings[ref]))
            continue  # someone keeps removing it: not fought (until the manifest carries it or the wiring changes)
        after = state.manifest
        if ref not in final_wirings:
            pass
        elif (
            after := _rewired(state.manifest, final_wirings[ref], digest := _digest(ref, final_wirings[ref], actual))
        ) != state.manifest:
            rewired[ref] = after
            wirings = tuple(sorted(final_wirings[ref].items()))
            before = read_wirings(state.manifest)
            removes = any(final_wirings[ref].get(name) != wiring for name, wiring in before.items())
            rolls = rotation.rolls_out(state.manifest, after)
            actions.append(RewireWorkload(desired.cluster, ref, wirings, removes, basis=state.manifest, digest=digest,
                                          rolls=rolls))  # fmt: skip
        elif digest is not None:
            actions += _awaiting_rollout(desired.cluster, state, actual, findings)
        waits = tuple(sorted(put & later_wirings.get(ref, {}).keys()))
        if waits and rewire(after, later_wirings[ref]) != after:
            wirings = tuple(sorted(later_wirings[ref].items()))
            removes = any(later_wirings[ref].get(name) != wiring for name, wiring in read_wirings(after).items())
            puts = tuple(put_linker_id(name) for name in waits)
            actions.append(RewireWorkload(desired.cluster, ref, wirings, removes, after_linkers=waits, requires=puts))

    for connection in sorted(removed, key=lambda c: c.name):
        # Its secret and service account before the linker: once the linker is gone nothing would plan their
        # deletion again, so a clean-up that failed would be left to the orphan sweep.
        # Both wait for the rewires of the connection's namespace: one that fails may leave a reference behind.
        rewires = tuple(a.id for a in actions if isinstance(a, RewireWorkload) and not a.after_linkers
                        and a.workload.namespace == connection.namespace)  # fmt: skip
        cleanup = _cleanup(connection, desired, actual, rewired, removed, findings, rewires)
        actions += cleanup
        actions.append(DeleteLinker(desired.cluster, connection.name, rewires + tuple(a.id for a in cleanup)))
    plan = Plan(desired.cluster, tuple(actions), tuple(findings))
    return hold_destructive(plan, desired.failed_reads) if desired.failed_reads else plan


def _rewired(manifest: dict, wirings: dict[str, Wiring], digest: str | None) -> dict:
    """The manifest with exactly `wirings`, carrying the digest of the content they give it (one pure rule, shared
    with the executor)."""
    return rotation.stamp_digest(manifest, rewire(manifest, wirings), digest)


def _digest(ref: WorkloadRef, wirings: dict[str, Wiring], actual: ClusterState) -> str | None:
    known = {name: d for (namespace, name), d in actual.secret_digests.items() if namespace == ref.namespace}
    return rotation.combined_digest([w.secret for w in wirings.values()], known)


def _rotation(
    intent: Intent, actual: ClusterState, settings: PlannerSettings, findings: list[Finding]
) -> PutLinker | None:
    """A connection otherwise as wanted whose secret is behind its Key Vault secret (a new version, or no record of
    the version it holds): re-put once with the new value, if that version's own `sc-targets` admits the target (Key
    Vault does not carry tags over to a new version). Otherwise CONSENT_MISSING names the version and the command,
    and the existing wiring stays as it is."""
    check = rotation.check_secret(intent, actual)
    if check is None or not check.readable:
        return None
    findings += rotation.secret_findings(
        check, intent, actual.observed_at or datetime.now(UTC), settings.expiry_warning
    )
    if not check.behind:
        return None
    wanted = check.wanted
    refusal = consent.vault_secret_admits(
        check.vault_url, check.name, wanted.version, wanted.tags, intent.tagged, intent.password_tag
    )
    if refusal is not None:
        findings.append(refusal)
        return None
    return PutLinker(intent, f"rotated: {rotation.stale_message(check)}", replaces=True, version=wanted.version,
                     stale=True)  # fmt: skip


def _awaiting_rollout(
    cluster: ResourceRef, state: WorkloadState, actual: ClusterState, findings: list[Finding]
) -> list[Action]:
    """A consumer already carrying the current digest whose rollout has not finished: looked at again later
    (ROLLOUT_PENDING, requeued), or ROLLOUT_STUCK once past its deadline."""
    if state.ref.kind not in rotation.ROLLING_KINDS or rotation.digest_of(state.manifest) is None:
        return []
    rollout = rotation.rollout_state(state.manifest, actual.observed_at or datetime.now(UTC))
    if rollout.state is rotation.Rollout.COMPLETE:
        return []
    if rollout.state is rotation.Rollout.STUCK:
        findings.append(_finding(Code.ROLLOUT_STUCK, cluster, rollout.message,
                                 f"kubectl -n {state.ref.namespace} rollout status {state.ref.kind.lower()}/"
                                 f"{state.ref.name}: fix what keeps the new pods from becoming ready"))  # fmt: skip
        return []
    findings.append(_finding(Code.ROLLOUT_PENDING, cluster, rollout.message,
                             "nothing: sc-autopilot looks again until the rollout completes"))  # fmt: skip
    return [Defer(cluster, f"rollout of {state.ref} onto the current secret: {rollout.message}",
                  ROLLOUT_RETRY_SECONDS, workload=state.ref)]  # fmt: skip


def hold_destructive(plan: Plan, failures: tuple[ReadFailure, ...]) -> Plan:
    """The plan on a partial view: everything destructive held, each failed read reported as READ_FAILED.
    What only adds (a new linker, a new wiring, a provider registration) still goes ahead."""
    kept = tuple(a for a in plan.actions if not is_destructive(a))
    held = len(plan.actions) - len(kept)
    notes = tuple(f.finding() for f in failures)
    if held:
        notes += (
            Finding(Code.READ_FAILED, plan.cluster.id, f"{held} removal(s) or overwrite(s) held: the view is partial",
                    "nothing to do once the failed reads above succeed: the next run applies them"),
        )  # fmt: skip
    return Plan(plan.cluster, kept, plan.findings + notes)


def hold_removals(plan: Plan, cap: int, left: int) -> Plan:
    """The removal circuit breaker tripped: keep everything but the removals, and say what is held and how to
    release it (`left`: what the app-wide hour still has)."""
    kept = tuple(a for a in plan.actions if not is_removal(a))
    held = [a for a in plan.actions if is_removal(a)]
    if not held:
        return plan
    named = "; ".join(a.describe() for a in held[:5]) + (f"; and {len(held) - 5} more" if len(held) > 5 else "")
    note = Finding(Code.REMOVALS_HELD, plan.cluster.id,
                   f"{len(held)} removal(s) held, more than the {left} left of SC_MAX_REMOVALS_PER_HOUR={cap} "
                   f"(the whole app, sliding hour): {named}",
                   "check why so much is unwanted (a tag change, a group rename); if intended, read "
                   "`sc-autopilot plan` and release them with `sc-autopilot apply --max-removals N` (logged); "
                   "otherwise they are applied once the hour has room")  # fmt: skip
    return Plan(plan.cluster, kept, (*plan.findings, note))


def _left_alone(connection: Connection, desired: Desired, settings: PlannerSettings, release: frozenset[str]) -> bool:
    """An owned linker nobody asks for that must still stay exactly as it is, wiring included: its target is
    held (paused, mis-tagged, or refused for a consent and not released), outside the managed subscriptions, or
    unknown, or its namespace is protected."""
    target = tagged_ref(connection.target_id)
    released = connection.name in release and target in desired.refused_targets
    return (
        target is None
        or (target in desired.held_targets and not released)
        or target.subscription_id.lower() not in settings.managed_subscriptions
        or connection.namespace in settings.protected_namespaces
    )


def _linker_drift(intent: Intent, connection: Connection | None, actual: ClusterState) -> str | None:
    """Why the linker must be (re)put, or None when it is what the tags want."""
    if connection is None:
        return "missing"
    wanted = {
        "target": intent.target.id.lower(),
        "auth": intent.auth.linker_auth_type,
        "namespace": intent.namespace,
        "client type": intent.client_type,
        "identity": intent.identity.client_id.lower() if intent.identity else None,
        "user": intent.user,
        "csi": intent.auth is AuthKind.CSI,
    }
    have = {
        "target": connection.target_id.lower(),
        "auth": connection.auth_type,
        "namespace": connection.namespace,
        "client type": connection.client_type,
        "identity": (connection.client_id or "").lower() or None,
        "user": connection.secret_user if intent.auth is AuthKind.SECRET else None,
        "csi": connection.csi,
    }
    drifted = [k for k in wanted if wanted[k] != have[k]]
    if drifted:
        return "drifted: " + ", ".join(drifted)
    if connection.provisioning_state != "Succeeded":
        return f"provisioning state is {connection.provisioning_state}"
    if intent.secret_name not in actual.secrets.get(intent.namespace, frozenset()):
        return "its secret is missing from the cluster"
    if intent.service_account and intent.service_account not in actual.service_accounts.get(
        intent.namespace, frozenset()
    ):
        return "its service account is missing from the cluster"
    return None


def _workload_wirings(
    desired: Desired, actual: ClusterState, ready: set[str], held: set[str], settings: PlannerSettings
) -> tuple[dict[WorkloadRef, dict[str, Wiring]], list[Finding]]:
    """For every workload we wired before or should wire now: exactly the wirings it should carry."""
    findings: list[Finding] = []
    final: dict[WorkloadRef, dict[str, Wiring]] = {}
    for ref, state in actual.workloads.items():
        records = read_wirings(state.manifest)
        if records and ref.namespace not in settings.protected_namespaces:
            final[ref] = {name: w for name, w in records.items() if name in held}  # held wiring stays as it is
    for intent in sorted(desired.intents, key=lambda i: i.linker_name):
        for spec in intent.workloads:
            ref = WorkloadRef(spec.kind, intent.namespace, spec.name)
            state = actual.workloads.get(ref)
            if state is None:
                findings.append(
                    _finding(
                        Code.WORKLOAD_NOT_FOUND,
                        intent.target,
                        f"{ref} does not exist on {intent.cluster.name}",
                        "fix the name in sc-workloads or deploy the workload",
                        "sc-workloads",
                    )
                )
                continue
            records = read_wirings(state.manifest)
            if intent.linker_name not in ready:  # its secret is not there yet: keep what exists, wire later
                if intent.linker_name in records:
                    final.setdefault(ref, {})[intent.linker_name] = records[intent.linker_name]
                continue
            wiring = _wiring_for(intent, spec.container, state, final.get(ref, {}), records, findings, actual.env_keys)
            earlier = final.get(ref, {}).get(intent.linker_name)
            if wiring is not None and earlier is not None:  # named twice (`deploy/web,deploy/web:nginx`): both
                wiring = replace(wiring, containers=tuple(dict.fromkeys(earlier.containers + wiring.containers)))
            if wiring is not None:
                final.setdefault(ref, {})[intent.linker_name] = wiring
    return final, findings


def _wiring_for(
    intent: Intent,
    container: str | None,
    state: WorkloadState,
    already: dict[str, Wiring],
    records: dict[str, Wiring],
    findings: list[Finding],
    env_keys: dict[tuple[str, str, str], frozenset[str]],
) -> Wiring | None:
    """This intent's wiring on one workload, or None (with a finding) when it must not be wired.

    `already` holds the wirings decided for the workload so far, `records` what our annotation says we added.
    """
    names = tuple(c.get("name") for c in pod_spec(state.manifest).get("containers") or [])
    if container is not None and container not in names:
        findings.append(
            _finding(
                Code.CONTAINER_NOT_FOUND,
                intent.target,
                f"{state.ref} has no container {container!r} (it has {', '.join(names)})",
                "fix the :container suffix in sc-workloads",
                "sc-workloads",
            )
        )
        return None
    containers = (container,) if container else names
    shadowed = _shadowed_keys(intent, containers, state.manifest, already, env_keys)
    if shadowed:
        kept = records.get(intent.linker_name)  # wired before: held as it is, never taken back silently
        findings.append(_env_key_conflict(intent, state, shadowed, held=kept is not None))
        return kept
    if intent.service_account is None:
        return Wiring(intent.secret_name, containers)
    current = service_account_of(state.manifest)
    wanted = {w.service_account for w in already.values() if w.service_account}
    if wanted and intent.service_account not in wanted:
        findings.append(
            _finding(
                Code.WI_IDENTITY_CONFLICT,
                intent.target,
                f"{state.ref} already runs as {', '.join(sorted(wanted))}; a pod has one service account",
                "connect this target with secret auth, or use the same identity",
                "sc-workloads",
            )
        )
        return None
    set_by_us = {w.service_account: w.previous_service_account for w in records.values() if w.service_account}
    if current in set_by_us:
        before = set_by_us[current]
    elif current in ("default", intent.service_account):  # the default, or ours set by hand: restored as it is
        before = pod_spec(state.manifest).get("serviceAccountName")
    else:
        findings.append(
            _finding(
                Code.SA_CONFLICT,
                intent.target,
                f"{state.ref} runs as service account {current!r}, which sc-autopilot does not own",
                "remove serviceAccountName from the workload, or connect with secret auth",
                "sc-workloads",
            )
        )
        return None
    labels = (pod_template(state.manifest).get("metadata") or {}).get("labels") or {}
    label_set = labels.get(WI_LABEL) == "true"
    # the label is ours to take back only if we added it (or keep it while one of our wirings needs it)
    label_ours = not label_set or any(w.label for w in records.values())
    return Wiring(intent.secret_name, containers, intent.service_account, before, label=label_ours)


def _shadowed_keys(
    intent: Intent,
    containers: tuple[str, ...],
    manifest: dict,
    already: dict[str, Wiring],
    env_keys: dict[tuple[str, str, str], frozenset[str]],
) -> frozenset[str]:
    """The connection's keys the containers already get: from their own `env` (which would silently win), or
    from another connection's secret in their envFrom, now or as this plan wires it (envFrom's last source wins,
    so ours would shadow it)."""
    documented = catalogue.entry(intent.target_kind).keys_for(intent.auth, intent.client_type)  # before it exists
    ours = env_keys.get(("Secret", intent.namespace, intent.secret_name), documented or frozenset())
    taken: set[str] = set()
    for c in pod_spec(manifest).get("containers") or []:
        if c.get("name") in containers:
            taken |= env_names(c)
    others = env_from_secrets(manifest, containers)
    others |= {w.secret: "" for w in already.values() if set(w.containers) & set(containers)}
    for name, prefix in others.items():
        if name != intent.secret_name:
            taken |= {prefix + key for key in env_keys.get(("Secret", intent.namespace, name), frozenset())}
    return ours & frozenset(taken)


def _env_key_conflict(intent: Intent, state: WorkloadState, keys: frozenset[str], held: bool) -> Finding:
    shown = ", ".join(sorted(keys)[:5])
    outcome = "its existing wiring is held as it is" if held else "it is not wired"
    return _finding(
        Code.ENV_KEY_CONFLICT,
        intent.target,
        f"{state.ref} already gets {shown} from its own env or another connection; {intent.linker_name} would "
        f"shadow them: {outcome}",
        "give the keys one source: remove the workload from one target's sc-workloads, or the variable from its env",
        "sc-workloads",
    )


def _cleanup(
    connection: Connection,
    desired: Desired,
    actual: ClusterState,
    rewired: dict[WorkloadRef, dict],
    removed: list[Connection],
    findings: list[Finding],
    rewires: tuple[str, ...],
) -> list[Action]:
    """After a linker goes: its secret and service account, once nothing would reference them (`rewires`: the
    namespace's rewires, which must apply first)."""
    actions: list[Action] = []
    namespace = connection.namespace
    after = [rewired.get(ref, state.manifest) for ref, state in actual.workloads.items() if ref.namespace == namespace]
    secret = naming.secret_name(connection.name)
    if secret in actual.secrets.get(namespace, frozenset()):
        users = [m["metadata"]["name"] for m in after if secret in secret_references(m)]
        if users:
            findings.append(
                _finding(
                    Code.SECRET_IN_USE,
                    desired.cluster,
                    f"secret {namespace}/{secret} of removed connection {connection.name} is still "
                    f"referenced by {', '.join(sorted(users))}",
                    "remove the reference; it is deleted on the next run",
                )
            )
        else:
            actions.append(DeleteObject(desired.cluster, ObjectKind.SECRET, namespace, secret, rewires))
    if connection.client_id:
        account = naming.service_account_name(connection.client_id)
        remaining = [c for c in actual.connections if c.client_id and c.namespace == namespace and c not in removed]
        still_used = any(i.service_account == account and i.namespace == namespace for i in desired.intents) or any(
            c.client_id.lower() == connection.client_id.lower() for c in remaining
        )
        in_pods = any(service_account_of(m) == account for m in after)
        if account in actual.service_accounts.get(namespace, frozenset()) and not still_used and not in_pods:
            actions.append(DeleteObject(desired.cluster, ObjectKind.SERVICE_ACCOUNT, namespace, account, rewires))
    return actions


def _gitops_managed(cluster: ResourceRef, state: WorkloadState, wanted: dict[str, Wiring]) -> list[Finding]:
    """A GitOps-managed workload lacking wiring it should have: the exact lines to commit, instead of a patch the
    next reconcile would revert. Once the manifest carries them, nothing is reported (and the verdict is
    Compliant)."""
    missing = [wiring for _, wiring in sorted(wanted.items()) if not carries(state.manifest, wiring)]
    owner = gitops_owner(state.manifest)
    if not missing or owner is None:
        return []
    wiring = ", ".join(w.secret for w in missing)
    return [
        Finding(
            Code.GITOPS_MANAGED,
            cluster.id,
            f"{state.ref} is applied by {owner.tool} ({owner.evidence}): not patched; it lacks the wiring of {wiring}",
            "commit the wiring below to the workload's source; the next reconcile of the GitOps tool applies it (or "
            "set SC_GITOPS_WIRING=patch to patch it and exempt sc-autopilot's fields, docs/operations.md)",
            "sc-workloads",
            snippet(state.manifest, state.ref, missing),
        )
    ]


def _name_taken(intent: Intent, connection: Connection) -> Finding:
    return _finding(
        Code.LINKER_NAME_TAKEN,
        intent.cluster,
        f"linker {connection.name} points at {connection.target_id or '?'} in namespace {connection.namespace}, "
        f"not at {intent.target.id} in {intent.namespace}: it is not ours and is left alone",
        "delete or rename that linker (whoever created it); sc-autopilot then creates its own",
    )


def _identity_missing(cluster: ClusterInfo, target: TargetInfo, identity: ResourceRef | None) -> Finding:
    if identity is None:
        message = "workload identity needs the cluster's sc-identity tag"
    else:
        message = f"identity {identity.id} was not found or cannot be read"
    return _finding(
        Code.IDENTITY_MISSING,
        cluster.ref,
        f"{message} (for {target.ref.name})",
        "tag the cluster sc-identity=<user-assigned identity> and grant the app read on it",
        "sc-identity",
    )


def _db_user_required(target: TargetInfo, identity: IdentityInfo) -> Finding:
    name = identity.ref.name.replace("]", "]]")
    tsql = (
        f"CREATE USER [{name}] FROM EXTERNAL PROVIDER; ALTER ROLE db_datareader ADD MEMBER [{name}]; "
        f"ALTER ROLE db_datawriter ADD MEMBER [{name}];"
    )
    return _finding(
        Code.SQL_WI_DB_USER_REQUIRED,
        target.ref,
        "Service Connector does not create the contained database user for an AKS source",
        f"a database admin (Entra) runs on {target.ref.name}: {tsql}",
        "sc-auth",
    )


def _finding(code: Code, ref: ResourceRef, message: str, fix: str, tag: str | None = None) -> Finding:
    return Finding(code, ref.id, message, fix, tag)


def _ref_or_none(resource_id: str) -> ResourceRef | None:
    try:
        return ResourceRef.parse(resource_id)
    except ValueError:
        return None
