"""deploy/nginx (the e2e stand-in) routes exactly like the chart's Ingress, through a real nginx,
over plain http and over TLS (HTTPS and WSS, the e2e suite's setting)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from chart_support import ROOT, Doc, one
from chat_testkit import ServiceProcess, free_port
from chat_testkit.tls import TestCA
from websockets.http11 import Request, Response
from websockets.sync.client import connect
from websockets.sync.server import Server, ServerConnection, serve

pytestmark = pytest.mark.chart

NGINX_DIR = ROOT / "deploy" / "nginx"
BACKEND_OF_SERVICE = {"chat-frontend": "frontend", "chat-api": "api", "chat-ws-gateway": "gateway"}
PROBE_PATHS = [
    "/", "/login", "/static/app.js", "/apix", "/apidocs", "/wsx", "/ws-old",
    "/api", "/api/", "/api/healthz", "/api/users/me", "/ws", "/ws/", "/ws/x",
    "/validate-token", "/metrics", "/readyz",
]  # fmt: skip


def load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat_nginx_render", NGINX_DIR / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ingress_backend(ingress: Doc, path: str) -> str:
    """Kubernetes Prefix semantics: element-wise prefix match, longest path wins."""
    best, backend = -1, ""
    for rule in ingress["spec"]["rules"][0]["http"]["paths"]:
        assert rule["pathType"] == "Prefix"
        prefix = rule["path"].rstrip("/")
        if path == prefix or path.startswith(prefix + "/") or prefix == "":
            if len(prefix) > best:
                best, backend = len(prefix), rule["backend"]["service"]["name"]
    return BACKEND_OF_SERVICE[backend]


class _Named(BaseHTTPRequestHandler):
    """Answers "<backend> <path>" so the test sees who got the request, and echoes the Host
    and X-Forwarded-Proto it was sent."""

    backend = "?"

    def do_GET(self) -> None:
        body = f"{self.backend} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.send_header("X-Seen-Proto", self.headers.get("X-Forwarded-Proto", ""))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def http_backend(name: str) -> ThreadingHTTPServer:
    handler = type(f"Handler_{name}", (_Named,), {"backend": name})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def gateway_backend(name: str) -> Server:
    """A real WebSocket server that echoes "<name>:<text>" and answers plain GETs by name."""

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        if "upgrade" not in request.headers.get("Connection", "").lower():
            response = conn.respond(200, f"gateway {request.path}")
            response.headers["X-Seen-Host"] = request.headers.get("Host", "")
            response.headers["X-Seen-Proto"] = request.headers.get("X-Forwarded-Proto", "")
            return response
        return None

    def handler(ws: ServerConnection) -> None:
        for message in ws:
            text = message if isinstance(message, str) else message.decode()
            ws.send(f"{name}:{text}")

    server = serve(handler, "127.0.0.1", 0, process_request=process_request)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module", params=["http", "https"])
def nginx(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Any]]:
    """The rendered template in front of named backends; "https" adds a test CA's certificate."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(exe).exists(), "nginx missing: apt-get install -y nginx (scripts/bootstrap.sh)"
    frontend, api = http_backend("frontend"), http_backend("api")
    gateways = [gateway_backend("gw1"), gateway_backend("gw2")]
    prefix = tmp_path_factory.mktemp("nginx")
    (prefix / "logs").mkdir()
    (prefix / "tmp").mkdir()
    port, tls, verify = free_port(), {}, None
    if request.param == "https":
        ca = TestCA.create(prefix / "tls")
        cert = ca.issue("server", "127.0.0.1")
        tls = {"TLS_CERTIFICATE": cert.chain, "TLS_CERTIFICATE_KEY": cert.key}
        verify = ca.client_context()
    conf = load_render().render(
        NGINX_DIR / "chat.conf.template",
        LISTEN_PORT=port,
        FRONTEND_UPSTREAM=f"127.0.0.1:{frontend.server_address[1]}",
        API_UPSTREAM=f"127.0.0.1:{api.server_address[1]}",
        GATEWAY_UPSTREAMS=[f"127.0.0.1:{g.socket.getsockname()[1]}" for g in gateways],
        **tls,
    )
    (prefix / "nginx.conf").write_text(conf)
    proc = ServiceProcess(
        name="nginx",
        argv=[exe, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        env={},
        log_dir=prefix / "logs",
        health_url=f"{request.param}://127.0.0.1:{port}/",
        health_verify=verify or True,
    ).start(timeout=20)
    try:
        yield {
            "url": f"{request.param}://127.0.0.1:{port}",
            "ws": f"{'wss' if verify else 'ws'}://127.0.0.1:{port}/ws",
            "verify": verify or True,
            "scheme": request.param,
            "port": port,
            "prefix": prefix,
            "conf": conf,
        }
    finally:
        proc.terminate()
        for g in gateways:
            g.shutdown()
        frontend.shutdown()
        api.shutdown()


@pytest.mark.parametrize("path", PROBE_PATHS)
def test_same_backend_as_ingress(nginx: dict[str, Any], dev_docs: list[Doc], path: str) -> None:
    """For every probe path nginx picks the backend the Ingress would pick (prefix kept)."""
    expected = ingress_backend(one(dev_docs, "Ingress", "chat"), path)
    r = httpx.get(f"{nginx['url']}{path}", timeout=5, verify=nginx["verify"])
    assert r.status_code == 200
    assert r.text == f"{expected} {path}"
    # Every backend sees the browser's Host and scheme, as ingress-nginx passes them.
    assert r.headers["x-seen-host"] == f"127.0.0.1:{nginx['port']}"
    assert r.headers["x-seen-proto"] == nginx["scheme"]


def test_websocket_through_nginx_reaches_both_replicas(nginx: dict[str, Any]) -> None:
    """/ws upgrades through nginx (ws:// or wss://) and round-robins over 2+ gateway upstreams."""
    seen = set()
    context = nginx["verify"] if nginx["scheme"] == "https" else None
    for i in range(4):
        with connect(nginx["ws"], open_timeout=5, ssl=context) as ws:
            ws.send(f"hello{i}")
            replica, text = str(ws.recv(timeout=5)).split(":", 1)
            assert text == f"hello{i}"
            seen.add(replica)
    assert seen == {"gw1", "gw2"}


def test_timeouts_match_ingress(nginx: dict[str, Any], dev_docs: list[Doc]) -> None:
    """/ws read/send timeouts equal the Ingress annotations; body size limit too."""
    ann = one(dev_docs, "Ingress", "chat")["metadata"]["annotations"]
    read = set(re.findall(r"proxy_read_timeout (\d+)s;", nginx["conf"]))
    send = set(re.findall(r"proxy_send_timeout (\d+)s;", nginx["conf"]))
    assert read == {ann["nginx.ingress.kubernetes.io/proxy-read-timeout"]}
    assert send == {ann["nginx.ingress.kubernetes.io/proxy-send-timeout"]}
    size = re.search(r"client_max_body_size (\S+);", nginx["conf"])
    assert size and size.group(1) == ann["nginx.ingress.kubernetes.io/proxy-body-size"]


def test_access_log_has_no_query_strings(nginx: dict[str, Any]) -> None:
    """The access log records paths only: a query-string secret never reaches it."""
    url = f"{nginx['url']}/api/healthz?token=SECRETVALUE"
    r = httpx.get(url, timeout=5, verify=nginx["verify"])
    assert r.status_code == 200
    log = (nginx["prefix"] / "logs" / "access.log").read_text()
    assert "GET /api/healthz HTTP/1.1" in log
    assert "SECRETVALUE" not in log and "token=" not in log


def test_render_rejects_bad_values() -> None:
    """render() refuses unknown names, missing values and malformed upstreams."""
    render = load_render().render
    base = {
        "LISTEN_PORT": 1,
        "FRONTEND_UPSTREAM": "a:1",
        "API_UPSTREAM": "b:2",
        "GATEWAY_UPSTREAMS": ["c:3", "d:4"],
    }
    assert "server c:3;" in render(**base) and "server d:4;" in render(**base)
    with pytest.raises(KeyError):
        render(**base, NOT_A_PLACEHOLDER=1)
    with pytest.raises(KeyError):
        render(**{k: v for k, v in base.items() if k != "API_UPSTREAM"})
    with pytest.raises(ValueError):
        render(**{**base, "API_UPSTREAM": "no-port"})
    tls = render(**base, TLS_CERTIFICATE="/t/c.pem", TLS_CERTIFICATE_KEY="/t/k.pem")
    assert "listen 127.0.0.1:1 ssl http2;" in tls and "ssl_certificate_key /t/k.pem;" in tls
    assert "ssl" not in render(**base)
    with pytest.raises(KeyError):  # a certificate without its key
        render(**base, TLS_CERTIFICATE="/t/c.pem")
    with pytest.raises(KeyError):  # derived from the TLS_* inputs, never given
        render(**base, LISTEN_TLS=" ssl")
    with pytest.raises(ValueError):  # a path that would end the directive
        render(**base, TLS_CERTIFICATE="/t/c.pem; include /etc", TLS_CERTIFICATE_KEY="/k")
