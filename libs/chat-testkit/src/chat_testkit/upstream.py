"""A tiny HTTP upstream for proxy tests: it answers "<name> <path>" and echoes the Host and
X-Forwarded-Proto it was sent, so a test sees which upstream the proxy chose and what the
proxy passed on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Named(BaseHTTPRequestHandler):
    name = "?"

    def do_GET(self) -> None:
        body = f"{self.name} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.send_header("X-Seen-Proto", self.headers.get("X-Forwarded-Proto", ""))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass  # the proxy's access log is the one under test


class NamedUpstream:
    """Serves on a loopback port from a daemon thread until close()."""

    def __init__(self, name: str) -> None:
        handler = type(f"Named_{name}", (_Named,), {"name": name})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll interval: close() waits for the serving loop to notice.
        serve = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        serve.start()

    @property
    def address(self) -> str:
        """host:port, as nginx's upstreams take it."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
