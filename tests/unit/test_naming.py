"""Deterministic names: our linkers, and the Secret / ServiceAccount names Service Connector derives from them."""

from __future__ import annotations

import hashlib
import re

from shared.core import naming
from shared.core.ids import ResourceRef
from shared.core.model import Connection

RG = "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg"
DB = ResourceRef(f"{RG}/providers/Microsoft.Sql/servers/s/databases/Orders-DB_1")
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def test_linker_name_is_prefix_64_bit_hash_and_readable_target_name():
    digest = hashlib.sha256(f"{DB.id.lower()}|shop".encode()).hexdigest()
    assert naming.linker_name(DB, "shop") == f"scap_{digest[:16]}_ordersdb1"
    assert naming.legacy_linker_name(DB, "shop") == f"scap_{digest[:10]}_ordersdb1"


def test_a_linker_is_ours_only_when_its_name_is_derived_from_its_own_target_and_namespace():
    for name in (naming.linker_name(DB, "shop"), naming.legacy_linker_name(DB, "shop")):
        assert naming.is_ours(Connection(name, DB.id.upper(), "secret", "shop", "go", "x"))
        assert not naming.is_ours(Connection(name, DB.id, "secret", "payments", "go", "x"))  # scope edited
        assert not naming.is_ours(Connection(name, DB.id + "x", "secret", "shop", "go", "x"))  # target edited
        assert not naming.is_ours(Connection(name, "not-an-id", "secret", "shop", "go", "x"))
    assert not naming.is_ours(Connection("scap_0123456789_ordersdb1", DB.id, "secret", "shop", "go", "x"))


def test_linker_name_ignores_the_spelling_of_the_id_but_not_the_namespace():
    upper = ResourceRef(DB.id.upper())
    assert naming.linker_name(upper, "shop") == naming.linker_name(DB, "shop")
    assert naming.linker_name(DB, "shop") != naming.linker_name(DB, "billing")


def test_long_and_unreadable_target_names_still_give_valid_names():
    long = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/{'a' * 64}")
    assert len(naming.linker_name(long, "shop")) == 60
    unreadable = ResourceRef(f"{RG}/providers/Microsoft.CognitiveServices/accounts/---")
    assert re.fullmatch(r"scap_[0-9a-f]{16}", naming.linker_name(unreadable, "shop"))
    for target in (long, unreadable):
        name = naming.linker_name(target, "shop")
        assert naming.LINKER_PATTERN.fullmatch(name)
        assert naming.is_ours(Connection(name, target.id, "secret", "shop", "go", "x"))


def test_secret_name_follows_service_connector_and_is_a_kubernetes_name():
    assert naming.secret_name("testsecretconnection") == "sc-testsecretconnection-secret"  # FACTS section 2
    assert naming.secret_name("scap_0123456789_Orders.x") == "sc-scap0123456789ordersx-secret"
    assert DNS_1123_SUBDOMAIN.fullmatch(naming.secret_name(naming.linker_name(DB, "shop")))


def test_service_account_name():
    assert naming.service_account_name("1111-aa") == "sc-account-1111-aa"


def test_a_sub_resource_target_is_named_after_the_resource_its_owner_tagged():
    account = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stshop"
    blob, queue = ResourceRef(f"{account}/blobServices/default"), ResourceRef(f"{account}/queueServices/default")
    assert naming.linker_name(blob, "shop").endswith("_stshop") and naming.linker_name(queue, "shop").endswith(
        "_stshop"
    )
    assert naming.linker_name(blob, "shop") != naming.linker_name(queue, "shop")  # the hash tells the services apart
    server = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-shop"
    assert naming.linker_name(ResourceRef(f"{server}/databases/orders"), "shop").endswith("_pgshoporders")
    redis = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cache/redis/cache/databases/0"
    assert naming.linker_name(ResourceRef(redis), "shop").endswith("_cache")
    database = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/s/databases/orders"
    assert naming.linker_name(ResourceRef(database), "shop").endswith("_orders")  # tagged itself: as it always was
