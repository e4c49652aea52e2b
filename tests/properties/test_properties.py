"""Properties (hypothesis): the tag parser is total and reads a value that is not a string as an empty tag; a Key
Vault URL is accepted exactly when every part of it is valid; from any history, apply converges to an empty plan
that has done what the tags ask (liveness); no plan deletes or overwrites what is not ours or what a held target
owns (safety). The generators reach valid tags and URLs in most examples; `pytest --hypothesis-show-statistics`
prints the shares (the `event` lines)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shared.core import catalogue, naming
from shared.core.ids import ResourceRef
from shared.core.manifests import pod_spec, read_wirings, rewire, secret_references, service_account_of
from shared.core.model import ClusterInfo, Connection, TargetInfo, TargetKind, Wiring, WorkloadRef
from shared.core.plan import DeleteLinker, DeleteObject, PutLinker, RewireWorkload
from shared.core.planner import PlannerSettings
from shared.core.tags import (
    KIND_ALIASES,
    SecretUrlError,
    declared_groups,
    parse_cluster_tags,
    parse_target_tags,
    split_secret_url,
)
from tests.planner_world import CLUSTER, DB, IDENTITIES, OPENAI, RG, converge, plan, simulate, state, workload

PROTECTED = PlannerSettings().protected_namespaces
DB2 = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/billing")
OPENAI2 = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/oai-two")
TAG_NAMES = ["sc-group", "sc-namespace", "sc-workloads", "sc-auth", "sc-client-type", "sc-sql-user",
             "sc-sql-password", "sc-pause", "sc-identity", "SC-GROUP", " sc-workloads"]  # fmt: skip
HOSTILE = ["", " ", "\x00", "\n", "a\nb", "deployment/api;rm -rf /", "../kube-system/x", '{"a": 1}', "a: [b]",
           "$(whoami)", "`id`", "%00", "\u202eipa/yolped", "deploy/\u200bapi", "x" * 256, "🙂", ",,,", "deploy/",
           "/api", "deploy/api:", "https://kv.vault.azure.net.evil.com/secrets/p",
           "https://u@kv.vault.azure.net/secrets/p"]  # fmt: skip
# Fewer under `make mutation` (SC_PROPERTY_EXAMPLES), where every surviving mutant runs them all.
SETTINGS = settings(max_examples=int(os.environ.get("SC_PROPERTY_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


# -- the tag parser is total -------------------------------------------------------------------------------
VALID_VALUES = ["shop", "shop,other", "deploy/api,sts/worker", "true", "secret", "workload-identity", "java", "app",
                "billing", "https://kv-shop.vault.azure.net/secrets/pw", "id-shop"]  # fmt: skip
VALID_SQL = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api", "sc-sql-user": "app",
             "sc-sql-password": "https://kv-shop.vault.azure.net/secrets/pw", "sc-identity": "id-shop"}  # fmt: skip
tag_values = st.one_of(st.text(max_size=300), st.sampled_from(HOSTILE), st.sampled_from(VALID_VALUES))
tag_dicts = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(TAG_NAMES), st.text(max_size=20)), tag_values, max_size=10),
    st.tuples(st.sampled_from(TAG_NAMES), tag_values).map(lambda change: {**VALID_SQL, change[0]: change[1]}),
)  # valid tags with one value anything at all


@SETTINGS
@given(tag_dicts)
def test_tag_parsers_never_raise_and_every_finding_names_its_fix(tags):
    for kind, ref in ((TargetKind.SQL_DATABASE, DB), (TargetKind.OPENAI, OPENAI)):
        parsed, findings = parse_target_tags(ref, kind, tags)
        assert parsed is not None or findings
        assert all(f.code and f.fix and f.resource_id == ref.id for f in findings)
        event(f"{kind.value} tags parsed: {parsed is not None}")
    parsed, findings = parse_cluster_tags(CLUSTER, tags)
    assert all(f.code and f.fix for f in findings)


not_strings = st.one_of(st.none(), st.integers(), st.booleans(), st.floats(allow_nan=False), st.lists(st.integers()))
garbage_dicts = st.dictionaries(
    st.one_of(st.sampled_from(TAG_NAMES), st.integers(), st.none()),
    st.one_of(st.sampled_from(VALID_VALUES), not_strings),
    min_size=1,
    max_size=8,
)
garbage = st.sampled_from([garbage_dicts] * 3 + [not_strings, st.lists(st.text(max_size=5), max_size=3)]).flatmap(
    lambda strategy: strategy
)  # fmt: skip


@SETTINGS
@given(garbage)
def test_tag_parsers_read_what_is_not_a_tag_dictionary_as_no_tags_and_a_non_string_value_as_empty(value):
    if isinstance(value, dict):
        clean = {k: v if isinstance(v, str) else "" for k, v in value.items() if isinstance(k, str)}
        event(
            f"a dictionary with {'some' if any(not isinstance(v, str) for v in value.values()) else 'no'} non-strings"
        )
    else:
        clean = {}
        event("not a dictionary")
    for kind, ref in ((TargetKind.SQL_DATABASE, DB), (TargetKind.OPENAI, OPENAI)):
        assert parse_target_tags(ref, kind, value) == parse_target_tags(ref, kind, clean)
    assert parse_cluster_tags(CLUSTER, value) == parse_cluster_tags(CLUSTER, clean)
    assert declared_groups(value) == declared_groups(clean)


# -- Key Vault URLs: accepted exactly when every part is valid ------------------------------------------------
URL_PARTS: dict[str, tuple[list[str], list[str]]] = {  # part -> (valid spellings, broken spellings)
    "scheme": (["https://", "HTTPS://"], ["http://", "ftp://", "https:/"]),
    "userinfo": ([""], ["u@", "u:p@"]),
    "vault": (["kv-shop", "KV-Shop", "abc", "a" * 24], ["ab", "a" * 25, "kv_shop", "kv.shop", ""]),
    "suffix": ([".vault.azure.net", ".VAULT.Azure.net"],
               [".vault.azure.net.evil.com", ".vault.azure.cn", ".evilvault.azure.net", "vault.azure.net"]),
    "port": (["", ":443"], [":8443", ":0", ":x"]),
    "collection": (["/secrets/"], ["/keys/", "/Secrets/", "/secrets//", "/certificates/"]),
    "name": (["pw", "Sql-Password-1", "p" * 127], ["", "pw_x", "p" * 128, "p%20w", "p.w"]),
    "version": (["", "/", "/" + "0" * 32, "/0123456789abcdefABCDEF0123456789", "/" + "f" * 32 + "/"],
                ["/123", "/" + "g" * 32, "/" + "0" * 32 + "/x", "/" + "0" * 33]),
    "tail": ([""], ["?api-version=7.4", "#x", " ", "\t", "\n"]),
}  # fmt: skip


@st.composite
def vault_urls(draw) -> tuple[str, str | None, dict[str, str]]:
    """(url, the one broken part or None, the parts): half the URLs are valid, the rest break exactly one part."""
    broken = draw(st.sampled_from([None] * len(URL_PARTS) + list(URL_PARTS)))
    parts = {part: draw(st.sampled_from(spellings[part == broken])) for part, spellings in URL_PARTS.items()}
    return "".join(parts.values()), broken, parts


@SETTINGS
@given(vault_urls())
def test_a_key_vault_url_is_accepted_exactly_when_every_part_is_valid(generated):
    url, broken, parts = generated
    event("valid URL" if broken is None else f"broken {broken}")
    try:
        result = split_secret_url(url, ("vault.azure.net",))
    except SecretUrlError:
        assert broken is not None, f"{url!r} was rejected"
        return
    assert broken is None, f"{url!r} was accepted"
    version = parts["version"].strip("/") or None
    assert result == (f"https://{parts['vault'].lower()}.vault.azure.net", parts["name"], version)


@SETTINGS
@given(st.one_of(tag_values, vault_urls().map(lambda generated: generated[0])))
def test_a_key_vault_url_is_accepted_only_on_an_allowed_vault_host(url):
    try:
        vault, name, _ = split_secret_url(url, ("vault.azure.net",))
    except SecretUrlError:
        event("rejected")
        return
    event("accepted")
    assert vault.startswith("https://") and vault.endswith(".vault.azure.net") and name


# -- the planner --------------------------------------------------------------------------------------------
WORKLOAD_ENTRIES = ["deploy/api", "sts/worker", "deploy/api:api", "deploy/ghost", "cronjob/report", "deploy/web:nginx",
                    "deploy/web:web", "deploy/web", "deploy/sys"]  # fmt: skip
BROKEN = {"sc-group": {"Bad Group"}, "sc-namespace": {"kube-system", "Bad"}, "sc-auth": {"bogus"},
          "sc-client-type": {"cobol"}, "sc-sql-user": {"", "a b"}, "sc-sql-password": {"hunter2"},
          "sc-workloads": {"x;rm"}}  # fmt: skip


def mostly(valid: list[str], broken: list[str]) -> st.SearchStrategy[str]:
    """Ten valid values to one broken: most examples must reach deep into the planner, not stop at a finding.
    Valid values come first: hypothesis favours the start of a list (and of a range) far beyond its share."""
    return st.sampled_from([*valid * 10, *broken])


@st.composite
def target_tags(draw) -> dict[str, str]:
    tags = {
        "sc-group": draw(mostly(["shop", "shop,other", " Shop , billing", "shop", "other", ""], ["Bad Group"])),
        "sc-namespace": draw(mostly(["shop", "shop", "shop", "billing", ""], ["kube-system", "Bad"])),
        "sc-workloads": ",".join(
            draw(st.lists(st.sampled_from(WORKLOAD_ENTRIES), min_size=1, max_size=4))
            + draw(st.sampled_from([[]] * 20 + [["x;rm"]]))
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
    if draw(st.sampled_from([False] * 9 + [True])):
        cluster_tags["sc-pause"] = "true"
    actual = state(
        api, workload("StatefulSet", "worker"), workload("CronJob", "report"), web, lookalike,
        workload("Deployment", "sys", namespace="kube-system"), workload("Deployment", "api", namespace="billing"),
        connections=[FOREIGN],
        secrets={"shop": frozenset({"sc-byhand-secret", "user-secret", "sc-orphan-secret"})},
        accounts={"shop": frozenset({"default", "payments", "sc-account-not-ours-either"})},
    )  # fmt: skip
    return dataclasses.replace(actual, info=ClusterInfo(CLUSTER, cluster_tags, "Succeeded"))


FOREIGN = Connection("by_hand", DB.id, "secret", "shop", "python", "Succeeded")


# -- the oracle: what the generated tags ask, computed from the generator's own vocabulary, not by the planner
def auth_of(target: TargetInfo) -> str:
    default = "secret" if target.kind is TargetKind.SQL_DATABASE else "workload-identity"
    return target.tags.get("sc-auth", default)


def namespace_of(target: TargetInfo) -> str:
    return target.tags["sc-namespace"] or "default"


def expectation(target: TargetInfo, cluster_tags: dict[str, str]) -> str:
    """`connected`, `held` (paused, mis-tagged or refused: left exactly as it is) or `unrelated` (not in the
    cluster's group)."""
    tags = target.tags
    sql_secret = target.kind is TargetKind.SQL_DATABASE and auth_of(target) == "secret"
    checked = [t for t in BROKEN if sql_secret or t not in ("sc-sql-user", "sc-sql-password")]
    if tags.get("sc-pause") == "true" or any(
        tags.get(t) in BROKEN[t] or (t == "sc-workloads" and "x;rm" in tags[t]) for t in checked
    ):
        return "held"
    client = tags.get("sc-client-type")
    if client and client not in catalogue.entry(target.kind).client_types:
        return "held"  # a client type Service Connector does not offer for this target (TAG_INVALID)
    if "shop" not in {g.strip().lower() for g in tags["sc-group"].split(",")}:
        return "unrelated"
    if namespace_of(target) != "shop":  # the only namespace whose owner lets these targets in (planner_world)
        return "held"
    if auth_of(target) == "workload-identity" and cluster_tags["sc-identity"] == "missing":
        return "held"
    return "connected"


def identity_of(cluster_tags: dict[str, str]):
    return next(i for ref, i in IDENTITIES.items() if ref.name == cluster_tags["sc-identity"])


def assert_tags_are_done(cluster, start, final, wanted: list[TargetInfo]) -> set[str]:
    """Liveness: every connected target has its linker and its workloads carry it; held targets are exactly as they
    were; nothing of ours remains that no target asks for. Returns what was checked, for the statistics."""
    tags = cluster.info.tags
    if tags.get("sc-pause") == "true":
        assert final == start
        return {"cluster paused"}
    checked = set()
    expected = {t.ref: expectation(t, tags) for t in wanted}
    connections = {c.name: c for c in final.connections}
    for target in wanted:
        linker = naming.linker_name(target.ref, namespace_of(target))
        ours = {c for c in start.connections if naming.is_ours(c) and ResourceRef.parse(c.target_id) == target.ref}
        checked.add(f"a target {expected[target.ref]}")
        if expected[target.ref] == "held":
            assert ours <= set(final.connections), f"{target.ref.name} is held, yet its linker changed"
            for ref, before in start.workloads.items():
                held = {n: w for n, w in read_wirings(before.manifest).items() if n in {c.name for c in ours}}
                after = read_wirings(final.workloads[ref].manifest)
                assert all(after.get(n) == w for n, w in held.items()), f"held wiring of {ref} changed"
            continue
        if expected[target.ref] == "unrelated":
            continue
        connection = connections.get(linker)
        assert connection is not None, f"{target.ref.name} asks to be connected: no linker"
        wi = auth_of(target) == "workload-identity"
        assert (connection.target_id, connection.namespace, connection.auth_type, connection.client_type) == (
            target.ref.id, namespace_of(target), "userAssignedIdentity" if wi else "secret",
            target.tags.get("sc-client-type", "python"),
        )  # fmt: skip
        for entry in filter(None, target.tags["sc-workloads"].split(",")):
            kind, _, rest = entry.partition("/")
            name, _, container = rest.partition(":")
            ref = WorkloadRef(KIND_ALIASES[kind], namespace_of(target), name)
            if ref not in cluster.workloads:
                continue
            original = cluster.workloads[ref].manifest
            names = [c["name"] for c in pod_spec(original)["containers"]]
            if (container and container not in names) or (wi and service_account_of(original) != "default"):
                continue  # CONTAINER_NOT_FOUND, SA_CONFLICT: reported, not wired
            manifest = final.workloads[ref].manifest
            for c in pod_spec(manifest)["containers"]:
                if not container or c["name"] == container:
                    secrets = [(e.get("secretRef") or {}).get("name") for e in c.get("envFrom") or []]
                    assert naming.secret_name(linker) in secrets, f"{entry} of {target.ref.name} is not wired"
            if wi:
                expected_account = naming.service_account_name(identity_of(tags).client_id)
                assert service_account_of(manifest) == expected_account
            checked.add("a workload wired")
    for connection in final.connections:
        if naming.is_ours(connection):
            target = ResourceRef.parse(connection.target_id)
            assert expected.get(target) in ("connected", "held"), f"{connection.name} is asked for by nobody"
    return checked


@SETTINGS
@given(clusters(), targets(), targets())
def test_from_any_history_apply_does_what_the_tags_ask_and_then_plans_nothing(cluster, before, after):
    """From any history (what an earlier set of tags left behind) to any new tags: apply converges to what the new
    tags ask, and a plan of the result writes nothing."""
    start = converge(cluster, before, passes=4)
    final = converge(start, after, passes=4)
    assert plan(final, after).writes == ()
    for checked in assert_tags_are_done(cluster, start, final, after):
        event(checked)
    event(f"linkers after: {len([c for c in final.connections if naming.is_ours(c)])}")


@SETTINGS
@given(clusters(), targets(), targets())
def test_no_plan_deletes_or_overwrites_what_is_not_ours_or_what_a_held_target_owns(cluster, before, after):
    current = converge(cluster, before, passes=2)
    for _ in range(3):
        result = plan(current, after)
        _assert_only_ours(current, result.actions, after)
        assert all(isinstance(f.message, str) and f.message and f.fix for f in result.findings)
        for action in result.writes:
            event(f"a plan with {type(action).__name__}")
        current = simulate(current, result.actions)


def _assert_only_ours(actual, actions, wanted: list[TargetInfo]) -> None:
    after = simulate(actual, [a for a in actions if isinstance(a, RewireWorkload)])
    expected = {t.ref: expectation(t, actual.info.tags) for t in wanted}
    connections = {c.name: c for c in actual.connections}
    for action in actions:
        assert getattr(action, "namespace", None) not in PROTECTED
        if isinstance(action, PutLinker):  # only what a target's tags ask for, over nothing that is not ours
            intent = action.intent
            assert expected.get(intent.target) == "connected", f"{action} is not asked for"
            assert intent.namespace not in PROTECTED and intent.linker_name.startswith("scap_")
            assert intent.linker_name not in connections or naming.is_ours(connections[intent.linker_name])
        elif isinstance(action, DeleteLinker):
            connection = connections[action.name]
            assert naming.is_ours(connection), f"{action} deletes a linker that is not ours"
            assert expected.get(ResourceRef.parse(connection.target_id)) != "held", f"{action} deletes a held linker"
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


# -- the properties can fail ---------------------------------------------------------------------------------
SQL_PROPERTY_TAGS = {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api",
                     "sc-sql-user": "app", "sc-sql-password": "https://kv-shop.vault.azure.net/secrets/pw"}  # fmt: skip
PAUSED = [TargetInfo(DB, TargetKind.SQL_DATABASE, {**SQL_PROPERTY_TAGS, "sc-pause": "true"})]


def _bad_actions():
    """(cluster, wanted targets, a plan no property may let through) for each safety rule."""
    api = WorkloadRef("Deployment", "shop", "api")
    user = workload("Deployment", "api", volumes=[{"name": "v", "secret": {"secretName": "sc-byhand-secret"}}])
    asked = [TargetInfo(DB, TargetKind.SQL_DATABASE, SQL_PROPERTY_TAGS)]
    wired = converge(state(workload("Deployment", "api")), asked)
    (ours,) = wired.connections
    (put,) = [a for a in plan(state(workload("Deployment", "api")), asked).actions if isinstance(a, PutLinker)]
    foreign_account = state(workload("Deployment", "api", serviceAccountName="payments"))
    account = Wiring("sc-x-secret", ("api",), "sc-account-1")
    return {
        "deletes a used secret": (state(user), [], [DeleteObject(CLUSTER, "Secret", "shop", "sc-byhand-secret")]),
        "deletes an account not ours": (state(), [], [DeleteObject(CLUSTER, "ServiceAccount", "shop", "payments")]),
        "puts a linker for a paused target": (state(workload("Deployment", "api")), PAUSED, [put]),
        "puts a linker nobody asks for": (state(workload("Deployment", "api")), [], [put]),
        "deletes a foreign linker": (state(connections=[FOREIGN]), [], [DeleteLinker(CLUSTER, "by_hand")]),
        "deletes a held target's linker": (wired, PAUSED, [DeleteLinker(CLUSTER, ours.name)]),
        "rewires in a protected namespace": (
            state(workload("Deployment", "sys", namespace="kube-system")), [],
            [RewireWorkload(CLUSTER, WorkloadRef("Deployment", "kube-system", "sys"), ())],
        ),
        "replaces a service account not ours": (foreign_account, [], [RewireWorkload(CLUSTER, api, (("x", account),))]),
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_bad_actions()))
def test_the_safety_property_can_fail(case):
    actual, wanted, actions = _bad_actions()[case]
    with pytest.raises(AssertionError):
        _assert_only_ours(actual, actions, wanted)


def test_the_liveness_property_can_fail():
    """A linker that was never put, a workload never wired, and a held target's wiring taken away are all caught."""
    cluster = dataclasses.replace(state(workload("Deployment", "api")), info=ClusterInfo(
        CLUSTER, {"sc-group": "shop", "sc-identity": "id-shop"}, "Succeeded"))  # fmt: skip
    wanted = [TargetInfo(DB, TargetKind.SQL_DATABASE, SQL_PROPERTY_TAGS)]
    done = converge(cluster, wanted)
    assert_tags_are_done(cluster, cluster, done, wanted)  # the real outcome passes
    with pytest.raises(AssertionError, match="no linker"):
        assert_tags_are_done(cluster, cluster, cluster, wanted)
    unwired = simulate(done, [RewireWorkload(CLUSTER, WorkloadRef("Deployment", "shop", "api"), ())])
    with pytest.raises(AssertionError, match="not wired"):
        assert_tags_are_done(cluster, cluster, unwired, wanted)
    with pytest.raises(AssertionError, match="held wiring"):
        assert_tags_are_done(cluster, done, unwired, PAUSED)
    with pytest.raises(AssertionError, match="asked for by nobody"):
        assert_tags_are_done(cluster, cluster, done, [])
