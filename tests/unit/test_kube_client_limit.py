"""How many clusters' Kubernetes clients a process keeps open: bounded by its descriptor limit."""

from __future__ import annotations

import resource

import pytest

from shared.adapters.kube import client


@pytest.mark.parametrize(
    ("soft", "expected"),
    [(1024, 64), (4096, 128), (20000, 512), (1048576, 512), (resource.RLIM_INFINITY, 512)],
)
def test_open_clients_follow_the_descriptor_limit(monkeypatch, soft, expected):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, resource.RLIM_INFINITY))
    assert client.open_client_limit() == expected
