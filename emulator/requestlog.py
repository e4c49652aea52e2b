"""The request log the admin API serves: one entry per request any emulated service answered."""

from __future__ import annotations

import threading


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[dict] = []
        self._lock = threading.Lock()

    def append(self, entry: dict) -> None:
        with self._lock:
            entry["seq"] = len(self._entries)
            self._entries.append(entry)

    def since(self, seq: int) -> tuple[list[dict], int]:
        """The entries from `seq` on and the next sequence number."""
        with self._lock:
            return list(self._entries[seq:]), len(self._entries)
