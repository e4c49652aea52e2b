"""Long-running operations: Azure-AsyncOperation status and Location result endpoints."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulator.arm.errors import arm_error
from emulator.http import HttpError, Response

log = logging.getLogger("emulator")
# ARM runs an operation whether or not anyone polls it: one whose caller went away (timed out, was killed) still
# finishes, this long after it started, instead of leaving its resource Accepted for ever.
UNPOLLED_FINISH_SECONDS = 1.0


@dataclass
class Outcome:
    status: str  # Succeeded | Failed | Canceled
    error: dict | None = None
    properties: dict | None = None  # the final status document's `properties` (validateLinker: its result)


@dataclass
class _Operation:
    id: str
    resource_id: str | None
    running: str  # the status while running: ARM's InProgress, Service Connector's Accepted
    status_path: str
    result_path: str
    polls_left: int
    complete: Callable[[], Outcome]
    started: str
    not_before: float = 0.0  # time.monotonic() before which polls answer "still running"
    ended: str = ""
    outcome: Outcome | None = None
    finishing: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Operations:
    """Operation status documents: `id`, `name`, `status`, `startTime`, then `endTime` and `properties` or `error`;
    Service Connector's also carry `resourceId` and say `Accepted` while running (FACTS.md section 10)."""

    def __init__(self, polls_before_done: int = 1, retry_after: float = 0):
        self.polls_before_done = polls_before_done
        self.retry_after = retry_after  # seconds; what `Retry-After` tells pollers (0: their own interval)
        self._ops: dict[str, _Operation] = {}
        self._lock = threading.Lock()

    def start(
        self,
        subscription_id: str,
        namespace: str,
        location: str,
        complete: Callable[[], Outcome],
        finish_after: float | None = None,
        *,
        resource_id: str | None = None,
        running: str = "InProgress",
    ) -> _Operation:
        """An operation that completes after `polls_before_done` polls, or, given `finish_after`, once that many
        seconds have passed (polled or not)."""
        op_id = str(uuid.uuid4())
        base = f"/subscriptions/{subscription_id}/providers/{namespace}/locations/{location}"
        op = _Operation(
            id=op_id,
            resource_id=resource_id,
            running=running,
            status_path=f"{base}/operationStatuses/{op_id}",
            result_path=f"{base}/operationResults/{op_id}",
            polls_left=self.polls_before_done if finish_after is None else 0,
            complete=complete,
            started=_now(),
            not_before=time.monotonic() + (finish_after or 0),
        )
        with self._lock:
            self._ops[op_id] = op
        timer = threading.Timer(
            UNPOLLED_FINISH_SECONDS if finish_after is None else finish_after, self._finish_unpolled, (op,)
        )
        timer.daemon = True
        timer.start()
        return op

    def _finish(self, op: _Operation) -> None:
        with op.finishing:  # once, whether a poll or the timer gets there first
            if op.outcome is None:
                outcome = op.complete()
                op.ended = _now()
                op.outcome = outcome

    def _finish_unpolled(self, op: _Operation) -> None:
        try:
            self._finish(op)
        except HttpError as error:  # what a poll would have answered; nobody is asking
            log.debug("operation %s finished unpolled with %s", op.id, error.response.status)

    def _advance(self, op_id: str) -> _Operation:
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                raise arm_error(404, "OperationNotFound", f"Operation '{op_id}' was not found.")
            if op.outcome is None and time.monotonic() < op.not_before:
                return op
            if op.outcome is None and op.polls_left > 0:
                op.polls_left -= 1
                return op
        self._finish(op)
        return op

    def status(self, op_id: str) -> Response:
        op = self._advance(op_id)
        return Response(200, self._document(op), self.retry_headers() if op.outcome is None else {})

    def result(self, op_id: str, base_url: str, api_version: str) -> Response:
        op = self._advance(op_id)
        if op.outcome is None:
            location = {"Location": f"{base_url}{op.result_path}?api-version={api_version}"}
            return Response(202, None, location | self.retry_headers())
        if op.outcome.status != "Succeeded":
            return Response(400, {"error": op.outcome.error or {"code": "Failed", "message": "Operation failed."}})
        return Response(200, self._document(op))

    def _document(self, op: _Operation) -> dict:
        body = {"id": op.status_path, "name": op.id}
        if op.resource_id is not None:
            body["resourceId"] = op.resource_id
        body |= {"status": op.running, "startTime": op.started}
        if op.outcome is None:
            return body
        body |= {"status": op.outcome.status, "endTime": op.ended}
        if op.outcome.error:
            body["error"] = op.outcome.error
        elif op.outcome.properties is not None:
            body["properties"] = op.outcome.properties
        return body

    def retry_headers(self) -> dict[str, str]:
        """`Retry-After` as ARM sends it with an operation still running (integral seconds print as such)."""
        seconds = self.retry_after
        return {"Retry-After": str(int(seconds)) if float(seconds).is_integer() else str(seconds)}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
