"""Scenario- or test-injected faults and latency, matched per service, method and path."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

FAULT_KINDS = ("status", "throttle", "reset", "delay", "lro_fail")


@dataclass
class Fault:
    kind: str  # status | throttle | reset | delay | lro_fail
    service: str = "*"  # arm | kube | keyvault | identity | *
    method: str = "*"
    path: str = ".*"  # regex searched in the request path
    status: int = 503
    retry_after: int = 1
    delay_ms: int = 0
    times: int | None = None  # None = until cleared
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {self.kind!r}")
        self._pattern = re.compile(self.path, re.IGNORECASE)

    def matches(self, service: str, method: str, path: str) -> bool:
        return (
            self.service in ("*", service)
            and self.method in ("*", method)
            and bool(self._pattern.search(path))
            and (self.times is None or self.hits < self.times)
        )

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.latency_ms: dict[str, int] = {}  # per service

    def add(self, spec: dict) -> Fault:
        fault = Fault(**spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, service: str, method: str, path: str, kinds: tuple[str, ...] = FAULT_KINDS) -> Fault | None:
        """The first matching fault of the given kinds, counted as one hit."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(service, method, path):
                    fault.hits += 1
                    return fault
        return None

    def listing(self) -> list[dict]:
        with self._lock:
            return [f.to_dict() for f in self._faults]
