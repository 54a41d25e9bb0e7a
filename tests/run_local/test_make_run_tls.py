"""`TLS=1 make run`: nginx terminates TLS with a certificate from a local CA in the run dir;
the page, /api and /ws share one https://localhost origin, and Chromium trusting that CA
signs in, chats over wss:// and stays signed in across a reload (Secure cookie).

The tests share one running stack and run in file order; the last one stops it.
"""

from __future__ import annotations

import ssl
import uuid
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_testkit.browser import chromium
from cryptography import x509
from run_local_support import (
    PASSWORD,
    Stack,
    descendants,
    load_script,
    start_stack,
    stop_and_check,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_stack(artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log = artifacts_dir / "run-local" / "tls.log"
    stack = start_stack(tmp_path_factory.mktemp("run-local-tls"), log, {"TLS": "1"})
    try:
        stack.wait_for(r"ready -> open")
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.proc.kill()
            stack.proc.wait()


def origin(stack: Stack) -> str:
    return f"https://localhost:{stack.base + 6}"  # after the one gateway's two ports


def ca_context(stack: Stack) -> ssl.SSLContext:
    """Trusts the run's local CA only, with host-name checks."""
    return ssl.create_default_context(cafile=str(stack.run_dir / "tls" / "ca.pem"))


def test_tls_prints_https_url_and_trust_hint(tls_stack: Stack) -> None:
    """The printed URL is https://localhost:<port>, with how to trust the CA."""
    assert tls_stack.wait_for(r"ready -> open (\S+)").group(1) == origin(tls_stack)
    ca = tls_stack.run_dir / "tls" / "ca.pem"
    assert f"certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n chat-local-ca -i {ca}" in (
        tls_stack.output()
    )


def test_tls_page_same_origin_and_secure_cookie(tls_stack: Stack) -> None:
    """Verified against the local CA: the page points at /api and /ws on its own origin, its
    CSP allows wss:// and no ws://, and the refresh cookie is Secure; HttpOnly; Strict."""
    with httpx.Client(base_url=origin(tls_stack), verify=ca_context(tls_stack), timeout=10) as h:
        page = h.get("/login")
        assert '"apiBase": "/api"' in page.text and '"wsUrl": "/ws"' in page.text
        csp = page.headers["content-security-policy"]
        assert f"wss://localhost:{tls_stack.base + 6}" in csp and "ws:" not in csp
        assert "strict-transport-security" not in page.headers  # off for localhost dev
        name = f"tl{uuid.uuid4().hex[:8]}"
        assert h.post("/api/register", json={"username": name, "password": PASSWORD}).is_success
        r = h.post("/api/login", json={"username": name, "password": PASSWORD})
    (cookie,) = [c for c in r.headers.get_list("set-cookie") if c.startswith("chat_refresh=")]
    assert {"secure", "httponly", "samesite=strict"} <= {
        part.strip().lower() for part in cookie.split(";")[1:]
    }


@pytest.mark.browser
def test_tls_browser_chats_over_wss_and_survives_reload(tls_stack: Stack) -> None:
    """Chromium trusting the local CA: register, the socket opens on wss://, a message is
    acked, and a reload keeps the session."""
    from playwright.sync_api import expect

    user = f"tb{uuid.uuid4().hex[:8]}"
    with chromium(trust_ca=tls_stack.run_dir / "tls" / "ca.pem") as browser:
        page = browser.new_page(base_url=origin(tls_stack))
        page.set_default_timeout(20_000)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto("/register")
        page.get_by_test_id("register-username").fill(user)
        page.get_by_test_id("register-password").fill(PASSWORD)
        page.get_by_test_id("register-submit").click()
        status = page.get_by_test_id("connection-status")
        expect(status).to_have_attribute("data-state", "open")
        page.get_by_test_id("open-room-browser").click()
        page.get_by_test_id("create-room-name").fill("tls")
        page.get_by_test_id("create-room-submit").click()
        page.get_by_test_id("composer-input").fill("over wss")
        page.get_by_test_id("composer-input").press("Enter")
        expect(page.locator("[data-testid=message][data-status=sent]")).to_have_count(1)
        (cookie,) = page.context.cookies()
        assert cookie["name"] == "chat_refresh" and cookie["secure"]
        page.reload()
        expect(page.get_by_test_id("current-user")).to_have_text(user)
        expect(status).to_have_attribute("data-state", "open")
        assert sockets and set(sockets) == {f"wss://localhost:{tls_stack.base + 6}/ws"}


def test_tls_ctrl_c_stops_nginx_too(tls_stack: Stack) -> None:
    """SIGINT stops every child, nginx (master and worker) included; exit 0."""
    nginx = {
        pid
        for pid in descendants(tls_stack.proc.pid)
        if b"nginx" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    }
    assert len(nginx) == 2, nginx
    stop_and_check(tls_stack)  # no descendant survives, so neither nginx process does


def test_local_ca_is_reused_and_name_constrained(tmp_path: Path) -> None:
    """A second start keeps the CA (trusted once) and issues a new server certificate; the
    CA can only sign localhost and loopback addresses (critical name constraints)."""
    load_script()  # puts scripts/ on sys.path
    import run_local_tls

    _, openssl = run_local_tls.tools()
    first, new_first = run_local_tls.ensure_certificates(tmp_path, openssl)
    ca, leaf = first.ca_pem.read_bytes(), first.cert.read_bytes()
    second, new_second = run_local_tls.ensure_certificates(tmp_path, openssl)
    assert (new_first, new_second) == (True, False)
    assert second.ca_pem.read_bytes() == ca and second.cert.read_bytes() != leaf
    assert (tmp_path / "tls" / "ca.key").stat().st_mode & 0o077 == 0
    constraints = x509.load_pem_x509_certificate(ca).extensions.get_extension_for_class(
        x509.NameConstraints
    )
    assert constraints.critical
    assert {str(n.value) for n in constraints.value.permitted_subtrees or []} == {
        "localhost", "127.0.0.0/8", "::1/128",
    }  # fmt: skip


def test_tls_port_layout(tmp_path: Path) -> None:
    """TLS=1: 8443 by default, after the gateways' ports with --port-base; COOKIE_SECURE on,
    origins https://, API and socket through nginx; without TLS nothing changes."""
    module = load_script()
    env = {"RUN_LOCAL_DIR": str(tmp_path), "JWT_SECRET": "x" * 64, "TLS": "1"}
    cfg = module.build_config(Namespace(port_base=None, run_dir=None), env)
    assert cfg.tls_port == 8443 and cfg.frontend_url == "https://localhost:8443"
    assert cfg.env["ALLOWED_ORIGINS"] == cfg.env["CORS_ORIGINS"] == "https://localhost:8443"
    assert cfg.env["COOKIE_SECURE"] == "true"
    assert (cfg.env["PUBLIC_API_BASE"], cfg.env["PUBLIC_WS_URL"]) == ("/api", "/ws")
    env |= {"REDIS_URL": "redis://127.0.0.1:1/0", "GATEWAY_REPLICAS": "2"}
    cfg = module.build_config(Namespace(port_base="30000", run_dir=None), env)
    assert cfg.gateway_ports == [(30004, 30005), (30006, 30007)] and cfg.tls_port == 30008
    cfg = module.build_config(Namespace(port_base=None, run_dir=None), {**env, "TLS": ""})
    assert cfg.tls_port is None and cfg.frontend_url == "http://localhost:8080"
