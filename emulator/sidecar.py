"""The plain-HTTP side listener: the managed-identity endpoint and a CONNECT proxy for Key Vault hosts.

The proxy lets the app use real vault URLs (https://<vault>.vault.azure.net/...) with HTTPS_PROXY set:
only `*.vault.azure.net:443` is tunnelled, to the emulator's own TLS listener; anything else is refused.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TokenIssuer = Callable[[dict[str, str]], tuple[int, dict]]


def start_sidecar(issue_token: TokenIssuer, identity_header: str, tls_port: int) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:
            pass

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            if split.path != "/msi/token":
                return self._reply(404, {"error": "not found"})
            if self.headers.get("X-IDENTITY-HEADER") != identity_header:
                return self._reply(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong."})
            status, body = issue_token(dict(parse_qsl(split.query)))
            self._reply(status, body)

        def do_CONNECT(self) -> None:
            host, _, port = self.path.partition(":")
            if not host.lower().endswith(".vault.azure.net") or port not in ("", "443"):
                return self._reply(403, {"error": f"the local cloud tunnels only *.vault.azure.net, not {self.path}"})
            upstream = socket.create_connection(("127.0.0.1", tls_port))
            self.send_response(200, "Connection established")
            self.end_headers()
            _pipe(self.connection, upstream)
            self.close_connection = True

        def _reply(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), name="emulator:sidecar", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Bytes both ways until either side closes or 60 s pass in silence. A selector, not select(): select() refuses
    descriptors above 1023, which a process serving hundreds of clusters' kept-alive connections reaches."""
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                ready = selector.select(60)
                if not ready:
                    return
                for key, _ in ready:
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        finally:
            b.close()
