"""A loopback endpoint standing in for an Event Grid subscriber: records what the local cloud delivers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


class Deliveries:
    def __init__(self, url: str):
        self.url = url
        self.received: list[tuple[str, object]] = []  # (content type, body)
        self._arrived = threading.Condition()

    def add(self, content_type: str, body: object) -> None:
        with self._arrived:
            self.received.append((content_type, body))
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[str, object]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def quiet_for(self, seconds: float) -> list[tuple[str, object]]:
        """What arrived within `seconds` (to show that something was NOT delivered)."""
        time.sleep(seconds)
        with self._arrived:
            return list(self.received)


@contextmanager
def webhook_receiver() -> Iterator[Deliveries]:
    deliveries: Deliveries

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()
            deliveries.add(self.headers["Content-Type"], body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    deliveries = Deliveries(f"http://127.0.0.1:{server.server_port}/hook")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield deliveries
    finally:
        server.shutdown()
        server.server_close()
