"""The guard webhooks the local cloud answers for a real API server: TokenReview, SubjectAccessReview and audit
events, checked on the wire shapes kube-apiserver sends (authentication.k8s.io/v1, authorization.k8s.io/v1,
audit.k8s.io/v1), without starting one."""

from __future__ import annotations

import json

import pytest

from emulator import scenario
from emulator.http import Request
from emulator.identity import AKS_AUDIENCE, ARM_AUDIENCE
from emulator.realkube.guard import Guard
from tests.conftest import CLUSTER, demo_spec

SECRET = "apiserver-secret"


@pytest.fixture
def world():
    cloud, _ = scenario.build(demo_spec())
    records: list[dict] = []
    guard = Guard(cloud.tokens, cloud.clusters._authorize, records.append, CLUSTER, "ckey", SECRET)
    return cloud, guard, records


def post(guard: Guard, endpoint: str, body: dict, secret: str = SECRET):
    request = Request(
        "POST", f"/_guard/ckey/{endpoint}", {}, {"authorization": f"Bearer {secret}"}, json.dumps(body).encode()
    )
    return guard.handle(request, endpoint)


def token(cloud, principal: str, audience: str = AKS_AUDIENCE) -> str:
    return cloud.tokens.issue(cloud.tokens.by_name(principal).principal, audience)[0]


def review(token_value: str) -> dict:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token_value}}


def access(user: str, verb: str, resource: str, group: str = "", namespace: str = "shop") -> dict:
    attributes = {"verb": verb, "resource": resource, "group": group, "version": "v1", "namespace": namespace}
    spec = {"resourceAttributes": attributes, "user": user, "uid": user, "groups": ["system:authenticated"]}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def test_token_review_accepts_only_aks_tokens_the_cloud_issued(world):
    cloud, guard, _ = world
    oid = cloud.tokens.by_name("sc-autopilot").principal.object_id
    answer = post(guard, "authenticate", review(token(cloud, "sc-autopilot"))).body
    assert answer["kind"] == "TokenReview" and answer["status"]["authenticated"] is True
    assert answer["status"]["user"]["username"] == oid and answer["status"]["user"]["extra"] == {"oid": [oid]}
    for wrong in (token(cloud, "sc-autopilot", ARM_AUDIENCE), "not-a-token"):
        assert post(guard, "authenticate", review(wrong)).body["status"]["authenticated"] is False


def test_subject_access_review_checks_the_data_action_of_the_grants(world):
    cloud, guard, _ = world
    auditor = cloud.tokens.by_name("auditor").principal.object_id  # control-plane reads only, no data actions
    app = cloud.tokens.by_name("sc-autopilot").principal.object_id  # Microsoft.ContainerService/managedClusters/*
    assert post(guard, "authorize", access(app, "patch", "deployments", "apps")).body["status"]["allowed"] is True
    refused = post(guard, "authorize", access(auditor, "get", "secrets")).body["status"]
    assert refused == {"allowed": False}  # no opinion: the API server's own 403 follows
    assert post(guard, "authorize", access("someone-else", "get", "secrets")).body["status"] == {"allowed": False}


def test_only_the_api_server_may_call_guard(world):
    cloud, guard, _ = world
    assert post(guard, "authenticate", review(token(cloud, "sc-autopilot")), secret="guess").status == 401


def test_audit_events_become_request_log_entries(world):
    cloud, guard, records = world
    oid = cloud.tokens.by_name("sc-autopilot").principal.object_id
    event = {
        "verb": "patch",
        "requestURI": "/apis/apps/v1/namespaces/shop/deployments/api?fieldManager=sc-autopilot",
        "user": {"username": oid},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-12-06T20:00:00.000000Z",
        "stageTimestamp": "2026-12-06T20:00:00.012000Z",
    }
    assert post(guard, "audit", {"kind": "EventList", "items": [event]}).status == 200
    [entry] = records
    assert (entry["service"], entry["method"], entry["status"], entry["principal"]) == (
        "kube",
        "PATCH",
        200,
        "sc-autopilot",
    )
    assert entry["path"] == "/clusters/ckey/apis/apps/v1/namespaces/shop/deployments/api" and entry["elapsed_ms"] == 12
