"""deploy/nginx (the stand-in chat_testkit.nginx runs for the e2e and fault suites and
`TLS=1 make run`) routes exactly like the chart's Ingress, through a real nginx, over plain
http and over TLS (HTTPS and WSS, the e2e suite's setting)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from chart_support import Doc, one
from chat_testkit import free_port
from chat_testkit.nginx import Nginx
from chat_testkit.nginx_config import render
from chat_testkit.tls import TestCA
from chat_testkit.upstream import NamedUpstream
from websockets.asyncio.client import connect
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

pytestmark = pytest.mark.chart

BACKEND_OF_SERVICE = {"chat-frontend": "frontend", "chat-api": "api", "chat-ws-gateway": "gateway"}
PROBE_PATHS = [
    "/", "/login", "/static/app.js", "/apix", "/apidocs", "/wsx", "/ws-old",
    "/api", "/api/", "/api/healthz", "/api/users/me", "/ws", "/ws/", "/ws/x",
    "/validate-token", "/metrics", "/readyz",
]  # fmt: skip


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
    frontend, api = NamedUpstream("frontend"), NamedUpstream("api")
    gateways = [gateway_backend("gw1"), gateway_backend("gw2")]
    dirs = tmp_path_factory.mktemp("nginx")
    cert, verify = None, None
    if request.param == "https":
        ca = TestCA.create(dirs / "tls")
        cert = ca.issue("server", "127.0.0.1")
        verify = ca.client_context()
    proxy = Nginx(
        dirs / "prefix",
        free_port(),
        frontend=frontend.address,
        api=api.address,
        gateways=[f"127.0.0.1:{g.socket.getsockname()[1]}" for g in gateways],
        cert=cert.chain if cert else None,
        key=cert.key if cert else None,
    ).start()
    try:
        yield {
            "url": proxy.url,
            "ws": proxy.ws_url,
            "verify": verify or True,
            "scheme": request.param,
            "port": proxy.port,
            "access_log": proxy.access_log,
            "conf": proxy.conf.read_text(),
        }
    finally:
        proxy.stop()
        for g in gateways:
            g.shutdown()
        frontend.close()
        api.close()


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
    context = nginx["verify"] if nginx["scheme"] == "https" else None
    # The asyncio client: the sync one reads in a thread while the caller sends, both on one
    # SSL object, and on TLS 1.3 about one handshake in 500 then never reaches the server
    # (tests/e2e/test_tls.py's wss_answer has the measurements).

    async def echoes() -> list[str]:
        answers = []
        for i in range(4):
            async with connect(nginx["ws"], open_timeout=5, ssl=context) as ws:
                await ws.send(f"hello{i}")
                answers.append(str(await asyncio.wait_for(ws.recv(), 5)))
        return answers

    replies = [answer.split(":", 1) for answer in asyncio.run(echoes())]
    assert [text for _, text in replies] == [f"hello{i}" for i in range(4)]
    assert {replica for replica, _ in replies} == {"gw1", "gw2"}


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
    log = nginx["access_log"].read_text()
    assert "GET /api/healthz HTTP/1.1" in log
    assert "SECRETVALUE" not in log and "token=" not in log


def test_render_rejects_bad_values() -> None:
    """render() refuses unknown names, missing values and malformed upstreams."""
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
