"""Long-running operations: Azure-AsyncOperation status and Location result endpoints."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.arm.errors import arm_error
from emulator.http import Response


@dataclass
class Outcome:
    status: str  # Succeeded | Failed | Canceled
    error: dict | None = None
    result: dict | None = None  # body of the final Location GET (e.g. validateLinker's result)


@dataclass
class _Operation:
    id: str
    status_path: str
    result_path: str
    polls_left: int
    complete: Callable[[], Outcome]
    started: str
    outcome: Outcome | None = None


class Operations:
    def __init__(self, polls_before_done: int = 1):
        self.polls_before_done = polls_before_done
        self._ops: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def start(self, subscription_id: str, namespace: str, location: str, complete: Callable[[], Outcome]) -> _Operation:
        op_id = str(uuid.uuid4())
        base = f"/subscriptions/{subscription_id}/providers/{namespace}/locations/{location}"
        op = _Operation(
            id=op_id,
            status_path=f"{base}/operationStatuses/{op_id}",
            result_path=f"{base}/operationResults/{op_id}",
            polls_left=self.polls_before_done,
            complete=complete,
            started=_now(),
        )
        with self._lock:
            self._ops[op_id] = op
        return op

    def _advance(self, op_id: str) -> _Operation:
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                raise arm_error(404, "OperationNotFound", f"Operation '{op_id}' was not found.")
            if op.outcome is None and op.polls_left > 0:
                op.polls_left -= 1
                return op
        if op.outcome is None:
            outcome = op.complete()
            with self._lock:
                op.outcome = op.outcome or outcome
        return op

    def status(self, op_id: str) -> Response:
        op = self._advance(op_id)
        body = {"id": op.status_path, "name": op.id, "status": "InProgress", "startTime": op.started}
        if op.outcome is not None:
            body["status"] = op.outcome.status
            body["endTime"] = _now()
            if op.outcome.error:
                body["error"] = op.outcome.error
        return Response(200, body)

    def result(self, op_id: str, base_url: str, api_version: str) -> Response:
        op = self._advance(op_id)
        if op.outcome is None:
            return Response(202, None, {"Location": f"{base_url}{op.result_path}?api-version={api_version}"})
        if op.outcome.status != "Succeeded":
            return Response(400, {"error": op.outcome.error or {"code": "Failed", "message": "Operation failed."}})
        return Response(200, op.outcome.result)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
