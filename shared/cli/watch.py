"""`sc-autopilot watch`: the Functions host in miniature for a laptop. It listens where Event Grid delivers to the
host (`POST /runtime/webhooks/eventgrid?functionName=on_resource_event`, any path is taken), answers the
subscription-validation handshake, and hands each delivery to the same event driver the function uses, so tag
changes made with `az` are reconciled as they happen. It first reconciles everything once (events are hints; what
happened before it started is caught up by that run, as by the sweep in Azure).

The local cloud delivers to it with `python -m emulator serve --deliver-events-to URL` (`make emulator` does).
Deliveries are queued and handled one at a time in arrival order, each answered at once with 200 (Event Grid
would retry a slow answer; the reconcile is level-triggered, so a lost or repeated hint only costs a run).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.container import Application
    from shared.service.results import RunReport

MAX_BODY = 1024 * 1024 + 1  # Event Grid's 1 MB per delivery; one byte more tells the decoder it was too large


class Watch:
    def __init__(self, app: Application, show: Callable[[str, RunReport], None], host: str, port: int):
        self.app = app
        self.show = show
        self.deliveries: queue.Queue[bytes | None] = queue.Queue()
        self.server = ThreadingHTTPServer((host, port), _handler(self.deliveries))
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/runtime/webhooks/eventgrid?functionName=on_resource_event"

    def run(self, catch_up: Callable[[], RunReport]) -> None:
        """Listen, reconcile everything once, then each delivery in turn until stop() (or Ctrl-C)."""
        threading.Thread(target=self.server.serve_forever, name="watch:http", daemon=True).start()
        self.show("catch-up: every tagged cluster", catch_up())
        while (payload := self.deliveries.get()) is not None:
            report = self.app.events.handle(payload)
            if report.runs or report.findings:
                self.show(_describe(payload), report)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.deliveries.put(None)


def _describe(payload: bytes) -> str:
    try:
        items = json.loads(payload)
        items = items if isinstance(items, list) else [items]
        subjects = [str(i.get("subject", "")).rsplit("/providers/Microsoft.Resources/tags", 1)[0] for i in items]
        return "event: " + ", ".join(s.rsplit("/", 1)[-1] for s in subjects if s)
    except (ValueError, AttributeError):
        return "event: (undecodable)"


def _handler(deliveries: queue.Queue[bytes | None]) -> type[BaseHTTPRequestHandler]:
    class Delivery(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), MAX_BODY))
            if self.headers.get("aeg-event-type") == "SubscriptionValidation":
                self._answer(200, {"validationResponse": _validation_code(body)})
                return
            deliveries.put(body)
            self._answer(200, {})

        def _answer(self, status: int, document: dict) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # the reconcile's output says what happened; no access log
            return

    return Delivery


def _validation_code(body: bytes) -> str:
    """Event Grid's handshake: echo data.validationCode of the SubscriptionValidationEvent."""
    try:
        (event, *_) = json.loads(body)
        return str(event["data"]["validationCode"])
    except (ValueError, KeyError, TypeError):
        return ""
