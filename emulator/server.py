"""A threaded HTTP(S) server that turns sockets into `Request`s for a handler callable."""

from __future__ import annotations

import logging
import ssl
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from emulator.http import HttpError, Request, Response

Handler = Callable[[Request], Response]
log = logging.getLogger("emulator")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: Handler, ssl_context: ssl.SSLContext | None):
        self.app_handler = handler
        self.ssl_context = ssl_context
        super().__init__(address, _RequestHandler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # Handshake in the worker thread (on first read), not in the accept loop.
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    disable_nagle_algorithm = True  # TCP_NODELAY: headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.app_handler(request)
        except HttpError as error:
            response = error.response
        except Exception:  # an emulator bug must surface as a 500, not a dropped connection
            log.error("unhandled error for %s %s\n%s", self.command, self.path, traceback.format_exc())
            response = Response(500, {"error": {"code": "InternalServerError", "message": "emulator bug"}})
        if response.status == 0:  # the fault layer asked to drop the connection
            self.close_connection = True
            self.connection.close()
            return
        payload = response.encoded()
        self.send_response(response.status)
        if payload or response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815


def start_server(
    handler: Handler, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None
) -> tuple[ThreadingHTTPServer, str]:
    """Serve `handler` on a daemon thread; return the server and its base URL."""
    server = _Server((host, port), handler, ssl_context)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name=f"emulator:{server.server_port}", daemon=True
    )
    thread.start()
    scheme = "https" if ssl_context else "http"
    return server, f"{scheme}://{host}:{server.server_port}"
