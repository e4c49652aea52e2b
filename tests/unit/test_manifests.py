"""Workload manifests, pure: every way a pod can reference a secret (the "still in use" check before a deletion),
the service account it runs as, and a rewire that adds and takes back exactly our own wiring."""

from __future__ import annotations

import copy
import json

import pytest

from shared.core.manifests import (
    WI_LABEL,
    WIRING_ANNOTATION,
    env_from_secrets,
    env_names,
    pod_spec,
    pod_template,
    read_wirings,
    rewire,
    secret_references,
    service_account_of,
)
from shared.core.model import Wiring
from tests.planner_world import workload

KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]


def manifest(kind="Deployment", **spec) -> dict:
    return workload(kind, "api", **spec).manifest


@pytest.mark.parametrize("kind", KINDS)
def test_the_pod_template_is_found_for_every_kind(kind):
    body = manifest(kind, serviceAccountName="x")
    assert pod_spec(body)["serviceAccountName"] == "x" and pod_template(body)["metadata"]["labels"] == {"app": "api"}


def test_a_manifest_without_a_template_has_an_empty_pod():
    assert pod_spec({"kind": "CronJob", "spec": {"jobTemplate": None}}) == {}
    assert pod_template({"kind": "Deployment"}) == {} and secret_references({"kind": "Job", "spec": {}}) == set()


def test_every_kind_of_secret_reference_is_found():
    spec = {
        "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}],
                            "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "init-key", "key": "a"}}}]}],
        "containers": [
            {"name": "a", "envFrom": [{"secretRef": {"name": "env-from"}}, {"configMapRef": {"name": "cm"}}],
             "env": [{"name": "B", "value": "plain"}, {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm"}}},
                     {"name": "D", "valueFrom": {"secretKeyRef": {"name": "env-key", "key": "d"}}}]},
            {"name": "b", "envFrom": [{"secretRef": {"name": "second-container"}}]},
        ],
        "volumes": [
            {"name": "v1", "secret": {"secretName": "volume"}},
            {"name": "v2", "projected": {"sources": [{"configMap": {"name": "cm"}}, {"secret": {"name": "projected"}},
                                                     {"secret": {"name": "projected-2"}}]}},
            {"name": "v3", "emptyDir": {}},
        ],
        "imagePullSecrets": [{"name": "pull"}, {"name": "pull-2"}],
    }  # fmt: skip
    assert secret_references(manifest("CronJob", **spec)) == {
        "init-env", "init-key", "env-from", "env-key", "second-container", "volume", "projected", "projected-2",
        "pull", "pull-2",
    }  # fmt: skip


def test_references_without_a_name_are_ignored():
    spec = {
        "containers": [{"name": "a", "envFrom": [{"secretRef": {}}, {"secretRef": {"name": ""}}],
                        "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"key": "a"}}}]}],
        "volumes": [{"name": "v", "secret": {}}, {"name": "w", "projected": {"sources": [{"secret": {}}]}}],
        "imagePullSecrets": [{}],
    }  # fmt: skip
    assert secret_references(manifest(**spec)) == set()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [({}, "default"), ({"serviceAccountName": "a"}, "a"), ({"serviceAccount": "b"}, "b"),
     ({"serviceAccountName": "a", "serviceAccount": "b"}, "a"), ({"serviceAccountName": ""}, "default")],
)  # fmt: skip
def test_the_service_account_a_pod_runs_as(spec, expected):
    assert service_account_of(manifest("Job", **spec)) == expected


SECRET = Wiring("sc-a-secret", ("api",))
IDENTITY = Wiring("sc-b-secret", ("api",), "sc-account-1", None, label=True)


def test_rewire_adds_then_takes_back_exactly_our_wiring():
    original = manifest()
    pod_spec(original)["containers"][0]["envFrom"] = [{"secretRef": {"name": "user-secret"}}]
    kept = copy.deepcopy(original)
    wired = rewire(original, {"a": SECRET, "b": IDENTITY})
    container = pod_spec(wired)["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": n}} for n in ("user-secret", "sc-a-secret", "sc-b-secret")]
    assert service_account_of(wired) == "sc-account-1" and pod_template(wired)["metadata"]["labels"][WI_LABEL] == "true"
    assert read_wirings(wired) == {"a": SECRET, "b": IDENTITY}
    assert json.loads(wired["metadata"]["annotations"][WIRING_ANNOTATION]) == {
        "a": SECRET.to_dict(), "b": IDENTITY.to_dict()
    }  # fmt: skip
    assert rewire(wired, {"a": SECRET, "b": IDENTITY}) == wired  # idempotent: nothing duplicated
    only_secret = rewire(wired, {"a": SECRET})
    assert secret_references(only_secret) == {"user-secret", "sc-a-secret"}
    assert (
        "serviceAccountName" not in pod_spec(only_secret)
        and WI_LABEL not in pod_template(only_secret)["metadata"]["labels"]
    )
    assert rewire(only_secret, {}) == original
    assert original == kept  # the input was not modified


def test_rewire_restores_the_service_account_that_was_there_before():
    original = manifest(serviceAccountName="default")
    wired = rewire(original, {"b": Wiring("s", ("api",), "sc-account-1", "default")})
    assert pod_spec(wired)["serviceAccountName"] == "sc-account-1"
    assert pod_spec(rewire(wired, {}))["serviceAccountName"] == "default"


def test_rewire_leaves_a_service_account_changed_by_hand_and_a_label_that_was_not_ours():
    wired = rewire(manifest(), {"b": Wiring("s", ("api",), "sc-account-1", None, label=False)})
    pod_spec(wired)["serviceAccountName"] = "payments"  # someone changed it since
    pod_template(wired)["metadata"]["labels"][WI_LABEL] = "true"
    after = rewire(wired, {})
    assert pod_spec(after)["serviceAccountName"] == "payments"
    assert pod_template(after)["metadata"]["labels"][WI_LABEL] == "true"


def test_rewire_keeps_the_label_while_another_of_our_wirings_needs_it():
    both = {"b": IDENTITY, "c": Wiring("sc-c-secret", ("api",), "sc-account-1", None, label=True)}
    after = rewire(rewire(manifest(), both), {"c": both["c"]})
    assert pod_template(after)["metadata"]["labels"][WI_LABEL] == "true"
    assert secret_references(after) == {"sc-c-secret"}


def test_rewire_changes_a_wiring_in_place_and_names_only_existing_containers():
    body = manifest()
    pod_spec(body)["containers"].append({"name": "side", "image": "x"})
    wired = rewire(body, {"a": Wiring("sc-a-secret", ("api", "ghost"))})
    assert [c.get("envFrom") for c in pod_spec(wired)["containers"]] == [[{"secretRef": {"name": "sc-a-secret"}}], None]
    moved = rewire(wired, {"a": Wiring("sc-a-secret", ("side",))})
    assert [c.get("envFrom") for c in pod_spec(moved)["containers"]] == [None, [{"secretRef": {"name": "sc-a-secret"}}]]


def test_rewire_keeps_other_annotations_and_drops_an_empty_annotation_map():
    body = manifest()
    body["metadata"]["annotations"] = {"team": "shop"}
    cycled = rewire(rewire(body, {"a": SECRET}), {})
    assert cycled["metadata"]["annotations"] == {"team": "shop"}
    assert "annotations" not in rewire(rewire(manifest(), {"a": SECRET}), {})["metadata"]


def test_rewire_on_a_template_without_spec_or_labels():
    body = {"kind": "Deployment", "metadata": {"name": "api"}, "spec": {"template": {}}}
    wired = rewire(body, {"b": Wiring("s", (), "sc-account-1", None, label=True)})
    assert pod_spec(wired)["serviceAccountName"] == "sc-account-1"
    assert pod_template(wired)["metadata"]["labels"] == {WI_LABEL: "true"}


@pytest.mark.parametrize(
    "raw",
    ["", "not json", "[1, 2]", '{"a": 1}', '{"a": {}}', '{"a": {"secret": "s", "containers": 5}}', "null"],
)
def test_an_unreadable_wiring_record_counts_as_nothing(raw):
    body = manifest()
    body["metadata"]["annotations"] = {WIRING_ANNOTATION: raw}
    assert read_wirings(body) == {}


def test_a_wiring_record_round_trips_with_defaults():
    body = manifest()
    body["metadata"]["annotations"] = {
        WIRING_ANNOTATION: '{"a": {"secret": "s"}, "b": ' + json.dumps(IDENTITY.to_dict()) + "}"
    }
    assert read_wirings(body) == {"a": Wiring("s", ()), "b": IDENTITY}
    assert read_wirings(copy.deepcopy(body)) == read_wirings(body)


def test_rewire_serialises_its_record_compactly_and_sorted_so_an_unchanged_wiring_is_no_change():
    wired = rewire(manifest(), {"b": IDENTITY, "a": SECRET})
    assert wired["metadata"]["annotations"][WIRING_ANNOTATION] == (
        '{"a":{"containers":["api"],"label":false,"previousServiceAccount":null,"secret":"sc-a-secret",'
        '"serviceAccount":null},"b":{"containers":["api"],"label":true,"previousServiceAccount":null,'
        '"secret":"sc-b-secret","serviceAccount":"sc-account-1"}}'
    )


def test_rewire_with_nothing_to_do_changes_nothing():
    assert rewire(manifest(), {}) == manifest()


def test_rewire_takes_back_every_changed_record_not_only_the_first():
    wired = rewire(manifest(), {"a": SECRET, "b": IDENTITY, "c": Wiring("sc-c-secret", ("api",))})
    assert secret_references(rewire(wired, {"a": SECRET})) == {"sc-a-secret"}


def test_rewire_takes_back_a_wiring_whose_envfrom_was_removed_by_hand():
    wired = rewire(manifest(), {"a": SECRET})
    pod_spec(wired)["containers"][0].pop("envFrom")
    after = rewire(wired, {})
    assert "envFrom" not in pod_spec(after)["containers"][0] and read_wirings(after) == {}


def test_rewire_builds_the_template_and_metadata_it_needs():
    bare = {"kind": "CronJob", "spec": {}}
    wired = rewire(bare, {"a": Wiring("s", (), "sc-account-1", None, label=True)})
    assert pod_spec(wired)["serviceAccountName"] == "sc-account-1" and read_wirings(wired) == {
        "a": Wiring("s", (), "sc-account-1", None, label=True)
    }
    assert rewire(wired, {}) == {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {
        "spec": {}, "metadata": {"labels": {}}}}}}, "metadata": {}}  # fmt: skip


def test_envfrom_secrets_of_all_or_only_the_named_containers_with_their_prefix():
    body = manifest(
        initContainers=[{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
        containers=[
            {"name": "a", "envFrom": [{"secretRef": {"name": "s1"}, "prefix": "P_"}, {"configMapRef": {"name": "cm"}},
                                      {"secretRef": {}}, {"secretRef": {"name": ""}}]},
            {"name": "b", "envFrom": [{"secretRef": {"name": "s2"}}]},
            {"name": "c"},
        ],
    )  # fmt: skip
    assert env_from_secrets(body) == {"s1": "P_", "s2": ""}
    assert env_from_secrets(body, ("b", "c")) == {"s2": ""}
    assert env_from_secrets(body, ()) == {} and env_from_secrets({"kind": "Job"}) == {}


def test_env_names_are_the_named_variables_a_container_sets():
    container = {"env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {}}, {"value": "no name"},
                         {"name": ""}, "junk"]}  # fmt: skip
    assert env_names(container) == {"A", "B"} and env_names({"name": "a"}) == set()


def test_rewire_wires_the_containers_named_after_a_missing_one():
    wired = rewire(manifest(), {"a": Wiring("sc-a-secret", ("ghost", "api"))})
    assert pod_spec(wired)["containers"][0]["envFrom"] == [{"secretRef": {"name": "sc-a-secret"}}]
