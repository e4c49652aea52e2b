"""Findings: what a run tells an operator, each with a severity, a code, the resource and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    resource_id: str
    message: str
    fix: str
    tag: str | None = None

    def to_dict(self) -> dict:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "resource": self.resource_id,
            "tag": self.tag,
            "message": self.message,
            "fix": self.fix,
        }
