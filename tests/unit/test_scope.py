"""The CLI's --subscription, --resource-group and --cluster filters: empty matches everything, each given filter must
match (ignoring case, as ARM does), and a cluster is named by its name or its full id."""

from __future__ import annotations

import pytest

from shared.core.ids import ResourceRef
from shared.core.scope import EVERYWHERE, ClusterScope

SUB = "c0ffee00-0000-4000-8000-00000000d370"
AKS = ResourceRef(
    f"/subscriptions/{SUB}/resourceGroups/RG-Shop/providers/Microsoft.ContainerService/managedClusters/Aks"
)


def test_an_empty_scope_is_everything_and_matches_every_cluster():
    assert EVERYWHERE == ClusterScope.of() == ClusterScope.of(None, None, None)
    assert EVERYWHERE.everything and EVERYWHERE.matches(AKS)
    for given in ({"subscriptions": [SUB]}, {"resource_groups": ["rg"]}, {"clusters": ["aks"]}):
        assert not ClusterScope.of(**given).everything, given


def test_filters_are_kept_lower_case_without_a_trailing_slash():
    scope = ClusterScope.of([SUB.upper()], ["RG-Shop/"], [AKS.id + "/", "Other"])
    assert scope == ClusterScope(frozenset({SUB}), frozenset({"rg-shop"}), frozenset({AKS.id.lower(), "other"}))


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ({"subscriptions": [SUB.upper()]}, True),
        ({"subscriptions": ["other", SUB]}, True),
        ({"subscriptions": ["other"]}, False),
        ({"resource_groups": ["rg-shop"]}, True),
        ({"resource_groups": ["rg"]}, False),
        ({"clusters": ["AKS"]}, True),
        ({"clusters": [AKS.id.upper()]}, True),
        ({"clusters": ["aks-2"]}, False),
        ({"subscriptions": [SUB], "resource_groups": ["rg-shop"], "clusters": ["aks"]}, True),
        ({"subscriptions": ["other"], "resource_groups": ["rg-shop"], "clusters": ["aks"]}, False),
        ({"subscriptions": [SUB], "resource_groups": ["rg"], "clusters": ["aks"]}, False),
        ({"subscriptions": [SUB], "resource_groups": ["rg-shop"], "clusters": ["aks-2"]}, False),
    ],
)
def test_every_given_filter_must_match(filters, matches):
    assert ClusterScope.of(**filters).matches(AKS) is matches
