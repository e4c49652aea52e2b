"""Structured logging: every record carries resource/connection/action/outcome fields, and no secret.

Secrets never enter a log call by design (we log names, not values); the redacting filter is the
belt to those braces: any value registered with `redact()` is scrubbed from every record.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

LOGGER_NAME = "sc_autopilot"
_secrets: set[str] = set()
_lock = threading.Lock()


def get_logger(component: str) -> logging.Logger:
    logger = logging.getLogger(f"{LOGGER_NAME}.{component}")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())  # logger filters are not inherited: attach to each
    return logger


def redact(value: str) -> None:
    """Register a secret value (e.g. a password read from Key Vault) so it can never be logged."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def log_event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """`message` plus machine-readable fields (resource, connection, action, outcome, correlation_id...)."""
    clean = {k: v for k, v in fields.items() if v is not None}
    logger.log(level, "%s %s", message, json.dumps(clean, sort_keys=True, default=str), extra={"sc": clean})


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            secrets = tuple(_secrets)
        if not secrets:
            return True
        text = record.getMessage()
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, "***")
            record.msg, record.args = text, ()
        return True
