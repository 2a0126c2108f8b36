"""A threading HTTP/1.1 server run in the background, and a request handler base for it."""

import json
import logging
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, access logs at debug level, and a one-call reply."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may stall mid-request before its connection is dropped

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without this, Nagle's algorithm and
        # delayed ACKs hold every keep-alive response back by about 40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(
        self, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        """Send a complete response with its length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, body: dict) -> None:
        """Send a JSON document."""
        self.reply(status, json.dumps(body).encode(), "application/json")

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class QuietServer(ThreadingHTTPServer):
    """A threading server that logs a client's broken connection instead of printing it."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hung up or timed out is routine; anything else is logged with its stack."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("client %s went away: %s", client_address, error)
        else:
            log.warning("error serving %s", client_address, exc_info=True)


class BackgroundServer:
    """A ``ThreadingHTTPServer`` for ``handler`` (a class), served on its own thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int, name: str):
        self._server = QuietServer((host, port), handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=name, daemon=True
        )

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


__all__ = ["BackgroundServer", "HTTPStatus", "QuietHandler", "QuietServer"]
