"""The composition root: settings -> adapters -> services, once per process."""

from __future__ import annotations

import functools

from shared.config import Settings
from shared.service.reconciler import Application


@functools.cache
def application() -> Application:
    """One per process (a Functions worker): clients, tokens and connection pools are reused across calls."""
    return Application(Settings.from_env())
