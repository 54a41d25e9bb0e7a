"""Pages, security headers, runtime config, static assets and ops endpoints of the real process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from chat_testkit import ServiceProcess, free_port

PAGES = ["/", "/login", "/register", "/profile"]


class _ConfigBlock(HTMLParser):
    """Collects <script> tags and the text of the JSON config block."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self._in_config = False
        self.config_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            attr = dict(attrs)
            self.scripts.append(attr)
            self._in_config = attr.get("id") == "config"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config_text += data


def parse(html: str) -> _ConfigBlock:
    parser = _ConfigBlock()
    parser.feed(html)
    return parser


def csp_directives(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_with_config_block(frontend, path: str) -> None:
    """Every page is HTML carrying the runtime config as a JSON data block, no inline code."""
    resp = httpx.get(frontend.url + path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["cache-control"] == "no-store"
    page = parse(resp.text)
    config = json.loads(page.config_text)
    assert config["apiBase"] == "/api"
    assert config["wsUrl"] == "/ws"
    for script in page.scripts:
        # Either the JSON data block or an external same-origin module; never inline JS.
        if script.get("id") == "config":
            assert script.get("type") == "application/json"
        else:
            assert script.get("type") == "module"
            assert (script.get("src") or "").startswith("/static/js/pages/")


@pytest.mark.parametrize(
    ("path", "title"),
    [("/", "Chat"), ("/login", "Sign in · Chat"), ("/register", "Create account · Chat")],
)
def test_page_titles_name_the_site_once(frontend, path: str, title: str) -> None:
    """Each <title> is "<page> · Chat"; the chat page is plain "Chat", not "Chat · Chat"."""
    found = re.search(r"<title>(.*?)</title>", httpx.get(frontend.url + path).text)
    assert found and found.group(1) == title


@pytest.mark.parametrize("path", [*PAGES, "/static/css/app.css", "/nope"])
def test_security_headers_on_every_response(frontend, path: str) -> None:
    """CSP, framing, sniffing and referrer headers are on pages, assets and 404s alike."""
    resp = httpx.get(frontend.url + path)
    csp = csp_directives(resp.headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in resp.headers["content-security-policy"]
    assert "'unsafe-eval'" not in resp.headers["content-security-policy"]
    # Plain http: the page's own socket is ws:// to its host, and no HSTS over http.
    assert csp["connect-src"] == ["'self'", f"ws://127.0.0.1:{frontend.port}"]
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["permissions-policy"] == "camera=(), microphone=(), geolocation=()"
    assert "strict-transport-security" not in resp.headers


def test_https_behind_ingress_csp_has_only_wss(frontend) -> None:
    """X-Forwarded-Proto: https (the ingress) -> the socket source is wss:// to the page's
    host, never ws://; without an HSTS setting there is still no HSTS header."""
    resp = httpx.get(
        frontend.url + "/",
        headers={"Host": "chat.example.com", "X-Forwarded-Proto": "https"},
    )
    csp = resp.headers["content-security-policy"]
    assert csp_directives(csp)["connect-src"] == ["'self'", "wss://chat.example.com"]
    assert "ws:" not in csp
    assert "strict-transport-security" not in resp.headers


def test_hsts_on_https_responses_only(frontend_hsts) -> None:
    """HSTS_MAX_AGE_SECONDS set: the header is on HTTPS responses (pages, assets, 404s) and
    never on plain-http ones (RFC 6797 7.2)."""
    https = {"X-Forwarded-Proto": "https"}
    for path in ("/", "/static/css/app.css", "/nope"):
        resp = httpx.get(frontend_hsts.url + path, headers=https)
        assert resp.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    plain = httpx.get(frontend_hsts.url + "/")
    assert "strict-transport-security" not in plain.headers


def test_hsts_setting_bounds() -> None:
    """0 (the default) is off; a negative or over two-year max-age is refused."""
    from chat_frontend.config import Settings
    from pydantic import ValidationError

    assert Settings().hsts() is None
    assert Settings(hsts_max_age_seconds=300).hsts() == "max-age=300"
    for bad in (-1, 2 * 365 * 24 * 3600 + 1):
        with pytest.raises(ValidationError):
            Settings(hsts_max_age_seconds=bad)


def test_hostile_host_header_not_echoed_into_csp(frontend) -> None:
    """A Host header that could inject CSP directives is left out of connect-src."""
    resp = httpx.get(frontend.url + "/login", headers={"Host": "evil; script-src *"})
    csp = resp.headers["content-security-policy"]
    assert "evil" not in csp
    assert csp_directives(csp)["connect-src"] == ["'self'"]


def test_absolute_api_and_ws_origins_in_csp_and_config(frontend_split) -> None:
    """With API/WS on other origins, the config block carries them and connect-src allows them."""
    resp = httpx.get(frontend_split.url + "/")
    config = json.loads(parse(resp.text).config_text)
    assert config["apiBase"] == "http://localhost:8000/api"
    assert config["wsUrl"] == "ws://localhost:8765/ws"
    connect = csp_directives(resp.headers["content-security-policy"])["connect-src"]
    # The configured origins only: no socket source derived from the page's Host.
    assert connect == ["'self'", "http://localhost:8000", "ws://localhost:8765"]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/js/api.js", "text/javascript"),
        ("/static/js/socket.js", "text/javascript"),
        ("/static/js/pages/chat.js", "text/javascript"),
        ("/static/css/app.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ],
)
def test_static_files_served_with_correct_types(frontend, path: str, content_type: str) -> None:
    """Module scripts, CSS and the icon come with the MIME types browsers require."""
    resp = httpx.get(frontend.url + path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].split(";")[0] == content_type
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_every_module_import_resolves(frontend) -> None:
    """Each relative `import ... from "./x.js"` in the static JS points at a served file."""
    static = Path(__file__).resolve().parents[1] / "src/chat_frontend/static"
    pattern = re.compile(r"""from\s+["'](\.{1,2}/[^"']+)["']""")
    for js in static.rglob("*.js"):
        for target in pattern.findall(js.read_text()):
            rel = (js.parent / target).resolve().relative_to(static)
            resp = httpx.get(f"{frontend.url}/static/{rel.as_posix()}")
            assert resp.status_code == 200, f"{js.name} imports missing {target}"


def test_unknown_static_is_404(frontend) -> None:
    """Missing assets are 404s, and path traversal out of the static folder is refused."""
    assert httpx.get(frontend.url + "/static/js/nope.js").status_code == 404
    assert httpx.get(frontend.url + "/static/../config.py").status_code == 404


def test_health_ready_metrics_on_ops_port_only(frontend) -> None:
    """/healthz, /readyz and /metrics answer on the ops port and are absent from the site."""
    assert httpx.get(frontend.ops_url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(frontend.ops_url + "/readyz").status_code == 200
    httpx.get(frontend.url + "/login")
    metrics = httpx.get(frontend.ops_url + "/metrics")
    assert metrics.status_code == 200
    assert 'chat_frontend_http_requests_total{method="GET",route="/login",status="200"}' in (
        metrics.text
    )
    assert "chat_frontend_http_request_duration_seconds_bucket" in metrics.text
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(frontend.url + path).status_code == 404


def test_metrics_labels_stay_low_cardinality(frontend) -> None:
    """Random unknown paths collapse into one `unmatched` route label."""
    for i in range(5):
        httpx.get(f"{frontend.url}/random-{i}")
    text = httpx.get(frontend.ops_url + "/metrics").text
    assert "random-" not in text
    assert 'route="unmatched"' in text


def test_sigterm_stops_cleanly(frontend_logs: Path) -> None:
    """SIGTERM stops both servers and the process exits 0."""
    ops_port = free_port()
    proc = ServiceProcess(
        name="frontend-sigterm",
        argv=[sys.executable, "-m", "chat_frontend"],
        env={
            "FRONTEND_HOST": "127.0.0.1",
            "FRONTEND_PORT": str(free_port()),
            "FRONTEND_OPS_PORT": str(ops_port),
        },
        log_dir=frontend_logs,
        health_url=f"http://127.0.0.1:{ops_port}/healthz",
    ).start()
    proc.signal(signal.SIGTERM)
    assert proc.terminate() == 0
    assert '"event": "stopped"' in proc.read_log()


@pytest.mark.parametrize(
    ("name", "value"),
    [("PUBLIC_WS_URL", "javascript:alert(1)"), ("PUBLIC_API_BASE", "http://x/api;script-src *")],
)
def test_bad_public_urls_refused_at_startup(frontend_logs: Path, name: str, value: str) -> None:
    """A URL that is neither a path nor an allowed absolute URL stops the process at start."""
    result = subprocess.run(
        [sys.executable, "-m", "chat_frontend"],
        env={**os.environ, name: value, "FRONTEND_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert name in result.stderr
