"""The composition root: settings -> adapters -> services, once per process."""

from __future__ import annotations

import functools

from shared.adapters.storage import LinkerIndex, SharedFacts
from shared.config import ConfigError, Settings, StorageSettings
from shared.service.reconciler import Application


@functools.cache
def application() -> Application:
    """One per process (a Functions worker): clients, tokens and connection pools are reused across calls, and the
    app's storage holds the linker index and the facts every instance shares."""
    try:
        storage = StorageSettings.from_env()
    except ConfigError:  # no storage configured: routing scans small estates, facts last for the process
        return Application(Settings.from_env())
    return Application(Settings.from_env(), index=LinkerIndex.from_settings(storage),
                       facts=SharedFacts.from_settings(storage))  # fmt: skip
