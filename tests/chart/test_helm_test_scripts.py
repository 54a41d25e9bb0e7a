"""The helm test scripts behave as the pods rely on, run here against local HTTP servers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from chart_support import CHART

pytestmark = pytest.mark.chart

SCRIPT = CHART / "files" / "api_health.py"


@pytest.fixture
def api() -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """(base URL, answers): each GET <base>/healthz pops the next (status, body), last repeats."""
    answers: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            if self.path != "/api/healthz":
                status, body = 404, b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", answers
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def run(url: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TEST_API_URL": url,
        "TEST_TIMEOUT_SECONDS": str(timeout),
        "TEST_RETRY_SECONDS": "0.05",
    }
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_api_health_passes_after_retries(api: tuple[str, list[tuple[int, bytes]]]) -> None:
    """503s while the API starts, then {"status": "ok"}: the test passes."""
    url, answers = api
    answers += [(503, b"{}"), (503, b"{}"), (200, b'{"status": "ok"}')]
    proc = run(url, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("retrying") == 2 and proc.stdout.strip().endswith(": ok")


def test_api_health_fails_when_never_healthy(api: tuple[str, list[tuple[int, bytes]]]) -> None:
    """A wrong body or a lasting error fails the test once the deadline passes."""
    url, answers = api
    answers.append((200, b'{"status": "starting"}'))
    proc = run(url, timeout=0.3)
    assert proc.returncode == 1 and "gave up: unexpected body" in proc.stderr


def test_api_health_fails_without_a_server() -> None:
    """Nothing listening: connection errors until the deadline, then exit 1."""
    proc = run("http://127.0.0.1:9/api", timeout=0.3)
    assert proc.returncode == 1 and "gave up" in proc.stderr
