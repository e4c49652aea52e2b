"""Microsoft.KubernetesConfiguration unregistered, as on a fresh subscription: the app registers it, Azure answers
`Registering` for a while, and no linker is put until it is `Registered` (FACTS.md section 6: "Check both
providers' registration state before the PUT; never rely on the 409 to discover the second one")."""

from __future__ import annotations

import time

from shared.config import Settings
from shared.container import Application
from tests.conftest import CLUSTER, DATABASE, SUB, Admin, demo_spec
from tests.e2e.conftest import SQL_TAGS, Estate

PROVIDER = f"/subscriptions/{SUB}/providers/Microsoft.KubernetesConfiguration"


def test_no_linker_is_put_while_the_provider_is_registering(make_cloud):
    cloud = make_cloud(demo_spec() | {"provider_registration_seconds": 1.0})
    admin = Admin(cloud)
    estate, app = Estate(admin), Application(Settings.from_env())
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS)
    mark = admin.mark()
    app.events.handle(estate.new_events())
    assert not estate.linkers()
    linker_puts = [r for r in admin.requests_since(mark) if r["method"] == "PUT" and "/linkers/" in r["path"]]
    assert linker_puts == []  # held: a PUT now would fail its operation ("Conflict") and leave a Failed linker
    deadline = time.monotonic() + 10
    while admin.state()["subscriptions"][SUB]["providers"]["Microsoft.KubernetesConfiguration"] != "Registered":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert app.applier.apply().ok
    assert len(estate.linkers()) == 1
