"""The production path over TLS: Chromium verifies nginx's certificate, the refresh cookie is
Secure and comes back on reload, the socket is wss:// with an https:// Origin, a plain-http
origin is refused, and the security headers are on the real HTTPS responses.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from chat_testkit.client import login
from chat_testkit.tls import ServerCert, TestCA
from e2e_stack import HSTS_SECONDS, Stack
from e2e_ui import Person, new_person
from playwright.sync_api import Browser, Error as PlaywrightError, expect
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<title>hello</title>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def https_server(cert: ServerCert) -> ThreadingHTTPServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.chain, cert.key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def load_error(browser: Browser, url: str) -> str:
    """ "" when the page loads, else Chromium's net:: error."""
    page = browser.new_page()
    try:
        page.goto(url, timeout=15_000)
        return ""
    except PlaywrightError as exc:
        return str(exc).split()[1] if "net::" in str(exc) else str(exc)
    finally:
        page.close()


def test_browser_verifies_the_certificate_chain(
    browser: Browser, test_ca: TestCA, tmp_path: Path
) -> None:
    """The suite's Chromium trusts the test CA and still verifies: a certificate of another
    CA and one of the trusted CA for another name are both refused."""
    other_ca = TestCA.create(tmp_path / "other")
    servers = {
        "trusted": https_server(test_ca.issue("ok", "127.0.0.1")),
        "other-ca": https_server(other_ca.issue("other", "127.0.0.1")),
        "wrong-name": https_server(test_ca.issue("wrong", "chat.example.com")),
    }
    try:
        seen = {
            name: load_error(browser, f"https://127.0.0.1:{server.server_address[1]}/")
            for name, server in servers.items()
        }
    finally:
        for server in servers.values():
            server.shutdown()
    assert seen == {
        "trusted": "",
        "other-ca": "net::ERR_CERT_AUTHORITY_INVALID",
        "wrong-name": "net::ERR_CERT_COMMON_NAME_INVALID",
    }


@pytest.mark.parametrize("path", ["/", "/login", "/static/css/app.css", "/nope"])
def test_security_headers_on_https_responses(stack: Stack, path: str) -> None:
    """Through the TLS nginx: HSTS, Referrer-Policy, Permissions-Policy, and a CSP whose
    connect-src is the page's origin plus wss:// to it, with no ws:// at all."""
    resp = stack.http.get(path)
    assert resp.headers["strict-transport-security"] == f"max-age={HSTS_SECONDS}"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["permissions-policy"] == PERMISSIONS_POLICY
    csp = {
        words[0]: words[1:]
        for words in (part.split() for part in resp.headers["content-security-policy"].split(";"))
        if words
    }
    assert csp["connect-src"] == ["'self'", f"wss://127.0.0.1:{stack.port}"]
    assert csp["default-src"] == csp["script-src"] == ["'self'"]
    assert "ws:" not in resp.headers["content-security-policy"]


def test_refresh_cookie_is_secure_httponly_strict(stack: Stack) -> None:
    """The login answer over HTTPS sets the refresh cookie Secure; HttpOnly; SameSite=Strict."""
    name = f"ck{uuid.uuid4().hex[:8]}"
    r = stack.http.post("/api/register", json={"username": name, "password": "pw-cookie-123"})
    assert r.status_code == 201, r.text
    r = stack.http.post("/api/login", json={"username": name, "password": "pw-cookie-123"})
    (cookie,) = [c for c in r.headers.get_list("set-cookie") if c.startswith("chat_refresh=")]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/api"} <= attributes


@pytest.fixture(scope="module")
def dora(stack: Stack, browser: Browser, e2e_artifacts: Path) -> Iterator[Person]:
    person = new_person(browser, stack.http, e2e_artifacts, "dora", "Dora")
    try:
        yield person
    finally:
        person.context.close()


def test_reload_sends_the_secure_cookie_and_socket_origin_is_https(
    dora: Person, stack: Stack
) -> None:
    """On reload Chromium sends the Secure cookie to /api/refresh over HTTPS and stays signed
    in; the new socket is wss:// through nginx and its handshake carries the https Origin."""
    cookie = next(c for c in dora.context.cookies() if c["name"] == "chat_refresh")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    handshakes: list[dict[str, Any]] = []
    cdp = dora.context.new_cdp_session(dora.page)
    cdp.send("Network.enable")
    cdp.on("Network.webSocketWillSendHandshakeRequest", lambda event: handshakes.append(event))
    # The page-load session check is `/api/refresh?optional=true` (no 401 when signed out).
    with dora.page.expect_request(lambda req: urlsplit(req.url).path == "/api/refresh") as refresh:
        dora.page.reload()
    assert "chat_refresh=" in (refresh.value.header_value("cookie") or "")
    assert refresh.value.response() is not None and refresh.value.response().status == 200
    expect(dora.tid("chat-app")).to_have_attribute("data-ready", "true")
    expect(dora.status()).to_have_attribute("data-state", "open")
    expect(dora.tid("current-user")).to_have_text("Dora")
    assert handshakes, "no WebSocket handshake seen after the reload"
    headers = {k.lower(): v for k, v in handshakes[-1]["request"]["headers"].items()}
    assert headers["origin"] == stack.url
    assert all(ws.url == stack.ws_url for ws in dora.sockets)


@pytest.mark.parametrize(
    "origin", ["https://127.0.0.1:{port}", "http://127.0.0.1:{port}", "http://localhost:{port}"]
)
def test_gateway_allows_only_the_https_page_origin(dora: Person, stack: Stack, origin: str) -> None:
    """A real WSS handshake through nginx: the https page origin authenticates, the same
    host served over plain http (or under another name) is refused with 403."""
    sent = origin.format(port=stack.port)
    token = login(stack.http, dora.username, dora.password).token
    expected = "auth_ok" if sent == stack.url else 403
    assert wss_answer(stack, sent, token) == expected


def wss_answer(stack: Stack, origin: str, token: str) -> str | int:
    """The first frame's type after auth over wss:// through nginx, or the refusal's status.

    The asyncio client, in a thread of its own (sync Playwright owns this thread's loop). The
    sync client reads in a thread while the caller sends, both on one SSL object, and on TLS
    1.3 the request then now and then never reaches the server: measured 1 handshake in
    300-800 hanging until nginx's 60 s client_header_timeout, none over TLS 1.2, and the
    same straight to a Python TLS server, so not nginx's doing."""

    async def answer() -> str | int:
        try:
            async with connect(
                stack.ws_url, origin=Origin(origin), ssl=stack.tls, open_timeout=10
            ) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                return str(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
        except InvalidStatus as refused:
            return refused.response.status_code

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, answer()).result()
