"""Properties (hypothesis): the tag parser is total; planning what apply left behind yields an empty plan; no
plan ever deletes or overwrites an object we do not own, whatever the tags and whatever the cluster holds."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.core import naming
from shared.core.ids import ResourceRef
from shared.core.manifests import pod_spec, read_wirings, rewire, secret_references, service_account_of
from shared.core.model import ClusterInfo, TargetInfo, TargetKind, WorkloadRef
from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RewireWorkload
from shared.core.planner import PlannerSettings
from shared.core.tags import SecretUrlError, parse_cluster_tags, parse_target_tags, split_secret_url
from tests.planner_world import CLUSTER, DB, OPENAI, RG, converge, plan, simulate, state, workload

PROTECTED = PlannerSettings().protected_namespaces
DB2 = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/billing")
OPENAI2 = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-two")
TAG_NAMES = ["sc-group", "sc-namespace", "sc-workloads", "sc-auth", "sc-client-type", "sc-sql-user",
             "sc-sql-password", "sc-pause", "sc-identity", "SC-GROUP", " sc-workloads"]  # fmt: skip
HOSTILE = ["", " ", "\x00", "\n", "a\nb", "deployment/api;rm -rf /", "../kube-system/x", '{"a": 1}', "a: [b]",
           "$(whoami)", "`id`", "%00", "\u202eipa/yolped", "deploy/\u200bapi", "x" * 256, "🙂", ",,,", "deploy/",
           "/api", "deploy/api:", "https://kv.vault.azure.net.evil.com/secrets/p",
           "https://u@kv.vault.azure.net/secrets/p"]  # fmt: skip
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- the tag parser is total -------------------------------------------------------------------------------
tag_values = st.one_of(st.text(max_size=300), st.sampled_from(HOSTILE))
tag_dicts = st.dictionaries(st.one_of(st.sampled_from(TAG_NAMES), st.text(max_size=20)), tag_values, max_size=10)


@SETTINGS
@given(tag_dicts)
def test_tag_parsers_never_raise_and_every_finding_names_its_fix(tags):
    for kind, ref in ((TargetKind.SQL_DATABASE, DB), (TargetKind.OPENAI, OPENAI)):
        parsed, findings = parse_target_tags(ref, kind, tags)
        assert parsed is not None or findings
        assert all(f.code and f.fix and f.resource_id == ref.id for f in findings)
    parsed, findings = parse_cluster_tags(CLUSTER, tags)
    assert all(f.code and f.fix for f in findings)


@SETTINGS
@given(st.one_of(st.none(), st.integers(), st.lists(st.text()), st.dictionaries(st.integers(), st.integers()),
                 st.dictionaries(st.text(), st.one_of(st.none(), st.integers(), st.lists(st.integers())))))  # fmt: skip
def test_tag_parsers_accept_garbage_that_is_not_a_tag_dictionary(garbage):
    parse_target_tags(DB, TargetKind.SQL_DATABASE, garbage)
    parse_cluster_tags(CLUSTER, garbage)


@SETTINGS
@given(tag_values)
def test_a_key_vault_url_is_accepted_only_on_an_allowed_vault_host(url):
    try:
        vault, name, _ = split_secret_url(url, ("vault.azure.net",))
    except SecretUrlError:
        return
    assert vault.startswith("https://") and vault.endswith(".vault.azure.net") and name


# -- the planner --------------------------------------------------------------------------------------------
WORKLOAD_ENTRIES = ["deploy/api", "sts/worker", "deploy/api:api", "deploy/ghost", "cronjob/report", "deploy/web:nginx",
                    "deploy/web:web", "deploy/sys"]  # fmt: skip


def mostly(valid: list[str], broken: list[str]) -> st.SearchStrategy[str]:
    """Nine valid values to one broken: most examples must reach deep into the planner, not stop at a finding."""
    return st.integers(0, 9).flatmap(lambda n: st.sampled_from(broken if n == 0 else valid))


@st.composite
def target_tags(draw) -> dict[str, str]:
    tags = {
        "sc-group": draw(mostly(["shop", "shop,other"], ["other", "", "Bad Group"])),
        "sc-namespace": draw(mostly(["shop", "billing"], ["kube-system", "Bad", ""])),
        "sc-workloads": ",".join(
            draw(st.lists(st.sampled_from(WORKLOAD_ENTRIES), max_size=4)) + draw(st.sampled_from([[]] * 9 + [["x;rm"]]))
        ),
        "sc-sql-user": draw(mostly(["app"], ["", "a b"])),
        "sc-sql-password": draw(mostly(["https://kv-shop.vault.azure.net/secrets/pw"], ["hunter2"])),
    }
    optional = {
        "sc-auth": mostly(["secret", "workload-identity"], ["bogus"]),
        "sc-client-type": mostly(["python", "java"], ["cobol"]),
        "sc-pause": mostly(["false"], ["true"]),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            tags[name] = draw(values)
    return tags


@st.composite
def targets(draw) -> list[TargetInfo]:
    refs = draw(st.lists(st.sampled_from([DB, DB2, OPENAI, OPENAI2]), min_size=1, max_size=3, unique=True))
    kinds = {DB: TargetKind.SQL_DATABASE, DB2: TargetKind.SQL_DATABASE}
    return [TargetInfo(ref, kinds.get(ref, TargetKind.OPENAI), draw(target_tags())) for ref in refs]


@st.composite
def clusters(draw):
    """A cluster with workloads, some of them already using things that are not ours, and foreign objects."""
    foreign_sa = draw(st.sampled_from([None, "payments"]))
    foreign_env = [{"secretRef": {"name": "user-secret"}}] if draw(st.booleans()) else []
    api = workload("Deployment", "api", serviceAccountName=foreign_sa) if foreign_sa else workload("Deployment", "api")
    if foreign_env:
        pod_spec(api.manifest)["containers"][0]["envFrom"] = foreign_env
    lookalike = workload("Deployment", "billing", volumes=[{"name": "v", "secret": {"secretName": "sc-byhand-secret"}}])
    web = workload("Deployment", "web")
    pod_spec(web.manifest)["containers"].append({"name": "nginx", "image": "x"})
    cluster_tags = {"sc-group": "shop", "sc-identity": draw(mostly(["id-shop", "id-b"], ["missing"]))}
    if draw(st.integers(0, 9)) == 0:
        cluster_tags["sc-pause"] = "true"
    actual = state(
        api, workload("StatefulSet", "worker"), workload("CronJob", "report"), web, lookalike,
        workload("Deployment", "sys", namespace="kube-system"), workload("Deployment", "api", namespace="billing"),
        connections=[dataclasses.replace(_foreign(), provisioning_state="Succeeded")],
        secrets={"shop": frozenset({"sc-byhand-secret", "user-secret", "sc-orphan-secret"})},
        accounts={"shop": frozenset({"default", "payments", "sc-account-not-ours-either"})},
    )  # fmt: skip
    return dataclasses.replace(actual, info=ClusterInfo(CLUSTER, cluster_tags, "Succeeded"))


def _foreign():
    from shared.core.model import Connection

    return Connection("by_hand", DB.id, "secret", "shop", "python", "Succeeded")


@SETTINGS
@given(clusters(), targets(), targets())
def test_planning_what_apply_left_behind_yields_an_empty_plan(cluster, before, after):
    """From any history (what an earlier set of tags left behind) to any new tags: apply converges, and a plan of
    the result writes nothing."""
    start = converge(cluster, before, passes=4)
    final = converge(start, after, passes=4)
    assert plan(final, after).writes == ()
    event(f"linkers after: {len([c for c in final.connections if naming.is_ours(c)])}")
    event(f"wired workloads: {sum(1 for w in final.workloads.values() if read_wirings(w.manifest))}")


@SETTINGS
@given(clusters(), targets(), targets())
def test_no_plan_deletes_or_overwrites_what_is_not_ours(cluster, before, after):
    current = converge(cluster, before, passes=2)
    for _ in range(3):
        result = plan(current, after)
        _assert_only_ours(current, result.actions)
        current = simulate(current, result.actions)


def _assert_only_ours(actual, actions) -> None:
    after = simulate(actual, [a for a in actions if isinstance(a, RewireWorkload)])
    for action in actions:
        assert getattr(action, "namespace", None) not in PROTECTED
        if isinstance(action, DeleteLinker | PutLinker):
            name = action.name if isinstance(action, DeleteLinker) else action.intent.linker_name
            assert name.startswith("scap_")
        elif isinstance(action, DeleteObject):
            ours = naming.is_service_connector_secret if action.kind == "Secret" else _is_our_account
            assert ours(action.name), action
            assert action.name not in {"sc-byhand-secret", "user-secret", "payments", "sc-account-not-ours-either"}
            users = [
                ref for ref, w in after.workloads.items() if ref.namespace == action.namespace
                and (action.name in secret_references(w.manifest) or service_account_of(w.manifest) == action.name)
            ]  # fmt: skip
            assert users == [], f"{action} while {users} use it"
        elif isinstance(action, RewireWorkload):
            assert action.workload.namespace not in PROTECTED
            _assert_foreign_settings_kept(actual.workloads[action.workload].manifest, dict(action.wirings))


def _is_our_account(name: str) -> bool:
    return name.startswith("sc-account-") and name != "sc-account-not-ours-either"


def _assert_foreign_settings_kept(manifest: dict, wirings: dict) -> None:
    """A rewire may add and remove only our own wiring: every other secret reference and a service account that
    is not ours stay exactly as they were."""
    changed = rewire(manifest, wirings)
    ours = {w.secret for w in [*read_wirings(manifest).values(), *wirings.values()]}
    assert secret_references(manifest) - ours <= secret_references(changed)
    before = service_account_of(manifest)
    if before not in ("default",) and not before.startswith("sc-account-"):
        assert service_account_of(changed) == before


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "CronJob"])
def test_the_properties_can_fail(kind):
    """Guard against a vacuous property: deleting a referenced user secret is caught."""
    actual = state(workload(kind, "api", volumes=[{"name": "v", "secret": {"secretName": "sc-byhand-secret"}}]))
    with pytest.raises(AssertionError):
        _assert_only_ours(actual, [DeleteObject(CLUSTER, "Secret", "shop", "sc-byhand-secret")])
    assert WorkloadRef(kind, "shop", "api") in actual.workloads
