"""What the tags ask of a cluster (`desired_state`) and the plan filters that hold things back (`hold_destructive`,
`hold_removals`): which targets are connected, held or refused, and the exact findings each case reports."""

from __future__ import annotations

import dataclasses

import pytest

from shared.core import consent, naming
from shared.core.codes import Code, Finding, ReadFailure
from shared.core.ids import ResourceRef
from shared.core.model import Connection, IdentityInfo, TargetInfo
from shared.core.plan import Plan, is_destructive, is_removal
from shared.core.planner import PlannerSettings, desired_state, hold_destructive, hold_removals, plan_cluster
from tests.planner_world import (
    CLUSTER,
    DB,
    IDENTITIES,
    IDENTITY,
    OPENAI_TARGET,
    RG,
    SETTINGS,
    SQL_TARGET,
    SUB,
    WI_CONSENT,
    converge,
    plan,
    state,
    workload,
)

LISTING_FAILED = ReadFailure("tag listing", f"/subscriptions/{SUB}", 503, "ServiceUnavailable")
IDENTITY_FAILED = ReadFailure("identity", IDENTITY.ref.id, 403, "AuthorizationFailed")
FAR_SUB = "99999999-9999-4999-8999-999999999999"
FAR_UAMI = ResourceRef(f"/subscriptions/{FAR_SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                       "userAssignedIdentities/id-far")  # fmt: skip
# an identity that consents to everything: only its subscription (outside SC_SUBSCRIPTIONS) keeps it out
FAR_IDENTITY = IdentityInfo(FAR_UAMI, "55555555-5555-5555-5555-555555555555", "66666666-6666-6666-6666-666666666666",
                            {**WI_CONSENT, "sc-clusters": RG})  # fmt: skip


def world(**kw):
    return state(workload("Deployment", "api"), **kw)


def tagged(target: TargetInfo, **tags) -> TargetInfo:
    return dataclasses.replace(target, tags={**target.tags, **tags})


def desired(actual=None, targets=(), identities=None, settings=SETTINGS, failed=()):
    actual = world() if actual is None else actual
    return desired_state(actual, list(targets), IDENTITIES if identities is None else identities, settings, failed)


# -- the cluster --------------------------------------------------------------------------------------------
def test_a_paused_cluster_is_held_keeps_its_failed_reads_and_says_exactly_how_to_resume():
    paused = world(cluster_tags={"sc-group": "shop", "sc-pause": "true"})
    result = desired(paused, [SQL_TARGET], failed=(LISTING_FAILED,))
    assert result.hold_cluster is True and result.intents == ()
    assert result.failed_reads == (LISTING_FAILED,)  # the sweep skips orphan clean-up on this partial view
    assert result.findings == (
        Finding(Code.PAUSED, CLUSTER.id, "sc-pause=true: left alone", "remove the sc-pause tag to resume", "sc-pause"),
    )


def test_a_cluster_with_tags_wanted_is_not_held_and_carries_its_failed_reads():
    result = desired(targets=[SQL_TARGET], failed=(LISTING_FAILED,))
    assert result.hold_cluster is False and [i.target for i in result.intents] == [DB]
    assert result.failed_reads == (LISTING_FAILED,) and result.refused_targets == frozenset()


# -- the planner's settings reach the tag parser -------------------------------------------------------------
def test_a_target_asking_for_a_protected_namespace_is_held():
    target = tagged(SQL_TARGET, **{"sc-namespace": "kube-system"})
    result = desired(world(namespaces={"kube-system": {consent.ALLOWED_TARGETS: RG}}), [target])
    assert result.intents == () and result.held_targets == {DB}
    assert [(f.code, f.tag) for f in result.findings] == [(Code.TAG_INVALID, "sc-namespace")]
    custom = PlannerSettings(protected_namespaces=("shop",), managed_subscriptions=frozenset({SUB}))
    assert desired(targets=[SQL_TARGET], settings=custom).held_targets == {DB}


def test_the_vault_suffixes_of_the_settings_decide_which_password_urls_are_accepted():
    china = tagged(SQL_TARGET, **{"sc-sql-password": "https://kv-shop.vault.azure.cn/secrets/pw"})
    assert desired(targets=[china]).held_targets == {DB}
    sovereign = dataclasses.replace(SETTINGS, vault_suffixes=("vault.azure.cn",))
    (intent,) = desired(targets=[china], settings=sovereign).intents
    assert intent.password_url == "https://kv-shop.vault.azure.cn/secrets/pw"


# -- consent ---------------------------------------------------------------------------------------------------
def test_a_target_whose_sc_clusters_tag_names_other_clusters_is_refused_even_in_the_clusters_group():
    elsewhere = tagged(SQL_TARGET, **{"sc-clusters": f"/subscriptions/{SUB}/resourceGroups/rg-other"})
    result = desired(targets=[elsewhere])
    assert result.intents == () and result.refused_targets == {DB} and result.held_targets == {DB}
    assert result.findings == (consent.target_to_cluster(DB, elsewhere.tags, CLUSTER),)


def test_an_identity_outside_the_managed_subscriptions_is_refused_before_it_is_read():
    actual = world(cluster_tags={"sc-group": "shop", "sc-identity": FAR_UAMI.id})
    result = desired(actual, [OPENAI_TARGET], identities={FAR_UAMI: FAR_IDENTITY})
    assert result.intents == () and result.refused_targets == {OPENAI_TARGET.ref}
    (finding,) = result.findings
    assert finding == consent.identity_in_scope(FAR_UAMI, CLUSTER, SETTINGS.managed_subscriptions)
    assert (finding.code, finding.resource_id, finding.tag) == (Code.CONSENT_MISSING, CLUSTER.id, "sc-identity")
    managed = dataclasses.replace(SETTINGS, managed_subscriptions=frozenset({SUB, FAR_SUB}))
    (intent,) = desired(actual, [OPENAI_TARGET], identities={FAR_UAMI: FAR_IDENTITY}, settings=managed).intents
    assert intent.identity == FAR_IDENTITY


def test_every_finding_of_every_target_is_kept_when_a_later_one_is_refused():
    mis_tagged = tagged(OPENAI_TARGET, **{"sc-auth": "bogus"})
    assert mis_tagged.ref < SQL_TARGET.ref
    result = desired(world(namespaces={"shop": {}}), [mis_tagged, SQL_TARGET])
    assert [(f.code, f.resource_id) for f in result.findings] == [
        (Code.TAG_INVALID, OPENAI_TARGET.ref.id),
        (Code.CONSENT_MISSING, DB.id),
    ]
    assert result.held_targets == {OPENAI_TARGET.ref, DB} and result.refused_targets == {DB}


# -- the identity ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("failed", "reported"),
    [((IDENTITY_FAILED,), False), ((LISTING_FAILED,), True), ((LISTING_FAILED, IDENTITY_FAILED), False), ((), True)],
    ids=["identity-unread", "other-read-failed", "both-failed", "nothing-failed"],
)
def test_an_identity_that_could_not_be_read_is_held_without_calling_it_missing(failed, reported):
    result = desired(targets=[OPENAI_TARGET], identities={}, failed=failed)
    assert result.intents == () and result.held_targets == {OPENAI_TARGET.ref}
    assert result.refused_targets == frozenset()
    missing = Finding(Code.IDENTITY_MISSING, CLUSTER.id,
                      f"identity {IDENTITY.ref.id} was not found or cannot be read (for oai)",
                      "tag the cluster sc-identity=<user-assigned identity> and grant the app read on it",
                      "sc-identity")  # fmt: skip
    assert result.findings == ((missing,) if reported else ())


def test_workload_identity_without_an_sc_identity_tag_says_exactly_which_tag_is_missing():
    result = desired(world(cluster_tags={"sc-group": "shop"}), [OPENAI_TARGET])
    assert result.findings == (
        Finding(Code.IDENTITY_MISSING, CLUSTER.id, "workload identity needs the cluster's sc-identity tag (for oai)",
                "tag the cluster sc-identity=<user-assigned identity> and grant the app read on it", "sc-identity"),
    )  # fmt: skip


def test_sql_with_workload_identity_says_exactly_what_service_connector_does_not_do():
    result = desired(targets=[tagged(SQL_TARGET, **{"sc-auth": "workload-identity"})])
    (finding,) = result.findings
    assert (finding.code, finding.resource_id, finding.tag) == (Code.SQL_WI_DB_USER_REQUIRED, DB.id, "sc-auth")
    assert finding.message == "Service Connector does not create the contained database user for an AKS source"
    assert finding.fix == (
        "a database admin (Entra) runs on orders: CREATE USER [id-shop] FROM EXTERNAL PROVIDER; "
        "ALTER ROLE db_datareader ADD MEMBER [id-shop]; ALTER ROLE db_datawriter ADD MEMBER [id-shop];"
    )


# -- a linker name someone else holds ---------------------------------------------------------------------------
def test_a_linker_under_our_name_pointing_nowhere_is_reported_exactly():
    name = naming.linker_name(DB, "shop")
    nowhere = Connection(name, "", "secret", "shop", "python", "Succeeded")
    result = plan(world(connections=[nowhere]), [tagged(SQL_TARGET, **{"sc-workloads": "deploy/api"})])
    assert result.writes == ()
    assert result.findings == (
        Finding(Code.LINKER_NAME_TAKEN, CLUSTER.id,
                f"linker {name} points at ? in namespace shop, not at {DB.id} in shop: it is not ours and is left "
                "alone", "delete or rename that linker (whoever created it); sc-autopilot then creates its own"),
    )  # fmt: skip


# -- holding back what a partial view or the removal breaker must not do ------------------------------------
def teardown() -> Plan:
    wired = converge(state(workload("Deployment", "api"), workload("StatefulSet", "worker")), [SQL_TARGET])
    return plan_cluster(desired(wired), wired, SETTINGS)


def test_a_partial_view_holds_every_destructive_action_and_counts_them_exactly():
    full = teardown()
    destructive = sum(is_destructive(a) for a in full.actions)
    assert destructive >= 3
    held = hold_destructive(full, (LISTING_FAILED,))
    assert held.cluster == CLUSTER and held.actions == tuple(a for a in full.actions if not is_destructive(a))
    assert held.findings == (
        *full.findings,
        LISTING_FAILED.finding(),
        Finding(Code.READ_FAILED, CLUSTER.id, f"{destructive} removal(s) or overwrite(s) held: the view is partial",
                "nothing to do once the failed reads above succeed: the next run applies them"),
    )  # fmt: skip


def test_a_partial_view_with_nothing_destructive_only_reports_the_failed_reads():
    adding = plan(world(), [SQL_TARGET])
    assert adding.actions and not any(is_destructive(a) for a in adding.actions)
    held = hold_destructive(adding, (LISTING_FAILED, IDENTITY_FAILED))
    notes = (LISTING_FAILED.finding(), IDENTITY_FAILED.finding())
    assert held == Plan(CLUSTER, adding.actions, (*adding.findings, *notes))


def test_the_removal_breaker_keeps_all_but_the_removals_and_names_the_cap():
    full = teardown()
    removals = sum(is_removal(a) for a in full.actions)
    assert removals >= 3
    held = hold_removals(full, 2, 1)
    assert held.cluster == CLUSTER and held.actions == tuple(a for a in full.actions if not is_removal(a))
    named = [a.describe() for a in full.actions if is_removal(a)]
    named = "; ".join(named[:5]) + (f"; and {len(named) - 5} more" if len(named) > 5 else "")
    assert held.findings == (
        *full.findings,
        Finding(Code.REMOVALS_HELD, CLUSTER.id,
                f"{removals} removal(s) held, more than the 1 left of SC_MAX_REMOVALS_PER_HOUR=2 (the whole app, "
                f"sliding hour): {named}",
                "check why so much is unwanted (a tag change, a group rename); if intended, read `sc-autopilot plan` "
                "and release them with `sc-autopilot apply --max-removals N` (logged); otherwise they are applied "
                "once the hour has room"),
    )  # fmt: skip
    adding = plan(world(), [SQL_TARGET])
    assert hold_removals(adding, 0, 0) is adding
