"""Stable ids derived from names, so the same scenario always yields the same GUIDs."""

from __future__ import annotations

import uuid


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(p.lower() for p in parts)))
