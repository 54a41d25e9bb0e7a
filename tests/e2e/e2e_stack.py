"""The whole chat behind nginx, as real processes: api + 2 gateway replicas + frontend.

PostgreSQL and Redis come from the testkit fixtures; nginx runs the rendered
deploy/nginx/chat.conf.template (the chart Ingress stand-in) in the foreground and
terminates TLS with a certificate from the suite's throw-away CA, so the browser runs the
production configuration: https:// and wss:// only, the Secure refresh cookie, HSTS and an
https:// Origin at the gateway. Every process logs into artifacts/e2e/logs so the
secret-grep test can read them all.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
from chat_testkit import ServiceProcess, free_port
from chat_testkit.services import (
    api_env,
    api_process,
    frontend_env,
    frontend_process,
    gateway_env,
    gateway_process,
    http_url,
    migrate_api,
)
from chat_testkit.tls import TestCA

ROOT = Path(__file__).resolve().parents[2]
NGINX_DIR = ROOT / "deploy" / "nginx"
REPLICAS = ("e2e-gw-1", "e2e-gw-2")
HSTS_SECONDS = 31536000


def load_render() -> ModuleType:
    """deploy/nginx/render.py is a script beside its template, not a package."""
    spec = importlib.util.spec_from_file_location("chat_nginx_render_e2e", NGINX_DIR / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Stack:
    log_dir: Path
    nginx_prefix: Path
    port: int
    api: ServiceProcess
    frontend: ServiceProcess
    nginx: ServiceProcess
    tls: ssl.SSLContext  # trusts the suite's CA only
    gateways: dict[str, ServiceProcess] = field(default_factory=dict)
    gateway_ops: dict[str, int] = field(default_factory=dict)
    _http: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/ws"

    @property
    def http(self) -> httpx.Client:
        """One client through nginx that verifies its certificate against the suite's CA."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, verify=self.tls, timeout=10)
        return self._http

    @property
    def access_log(self) -> Path:
        return self.nginx_prefix / "logs" / "access.log"

    def all_logs(self) -> list[Path]:
        logs = sorted(self.log_dir.glob("*.log"))
        return [*logs, *sorted((self.nginx_prefix / "logs").glob("*.log"))]

    def gateway_connections(self, replica: str) -> float:
        """The replica's `chat_gateway_connections` gauge (its ops port)."""
        text = httpx.get(f"http://127.0.0.1:{self.gateway_ops[replica]}/metrics", timeout=5).text
        for line in text.splitlines():
            if line.startswith("chat_gateway_connections "):
                return float(line.split()[1])
        raise AssertionError("chat_gateway_connections missing from /metrics")

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
        for proc in (self.nginx, self.frontend, *self.gateways.values(), self.api):
            proc.terminate(timeout=15)


def start_stack(artifacts: Path, database_url: str, redis_url: str, ca: TestCA) -> Stack:
    log_dir = artifacts / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    port, api_port, internal_port = free_port(), free_port(), free_port()
    origin = f"https://127.0.0.1:{port}"
    unbuffered = {"PYTHONUNBUFFERED": "1"}
    api_settings = api_env(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=secrets.token_hex(32),
        port=api_port,
        internal_port=internal_port,
        environment="production",
        auth_rate=None,
        COOKIE_SECURE="true",  # the API's default, said here because the suite checks it
        REGISTER_RATE_PER_IP="200/minute",  # every browser user comes from 127.0.0.1
        LOGIN_RATE_PER_IP="200/minute",
        **unbuffered,
    )
    migrate_api(api_settings, cwd=ROOT, log_path=log_dir / "migrate.log")
    api = api_process(api_settings, log_dir, health="/readyz", cwd=ROOT)

    fe_port, fe_ops = free_port(), free_port()
    frontend = frontend_process(
        frontend_env(
            port=fe_port,
            ops_port=fe_ops,
            HSTS_MAX_AGE_SECONDS=str(HSTS_SECONDS),
            **unbuffered,
        ),
        log_dir,
        cwd=ROOT,
    )
    gateways: dict[str, ServiceProcess] = {}
    gateway_ports: dict[str, tuple[int, int]] = {}
    for replica in REPLICAS:
        gw_port, ops = free_port(), free_port()
        gateway_ports[replica] = (gw_port, ops)
        gateways[replica] = gateway_process(
            gateway_env(
                port=gw_port,
                ops_port=ops,
                replica=replica,
                api_url=http_url(api_port),
                api_internal_url=http_url(internal_port),
                redis_url=redis_url,
                allowed_origins=origin,
                DRAIN_SECONDS="3",
                # A killed replica's users drop out of presence quickly.
                PRESENCE_TTL_SECONDS="6",
                **unbuffered,
            ),
            log_dir,
            name=replica,
            health="/readyz",
            cwd=ROOT,
        )
    # All four in parallel: imports dominate start-up on a 2-core machine, and each health
    # URL is polled until it answers (a gateway is ready once it reaches the API and Redis).
    with ThreadPoolExecutor(4) as pool:
        started = [pool.submit(p.start, timeout=90) for p in (api, frontend, *gateways.values())]
        for fut in started:
            fut.result()

    nginx = start_nginx(artifacts / "nginx", ca, port, fe_port, api_port, gateway_ports)
    return Stack(
        log_dir=log_dir,
        nginx_prefix=artifacts / "nginx",
        port=port,
        api=api,
        frontend=frontend,
        nginx=nginx,
        tls=ca.client_context(),
        gateways=gateways,
        gateway_ops={r: gateway_ports[r][1] for r in REPLICAS},
    )


def start_nginx(
    prefix: Path,
    ca: TestCA,
    port: int,
    fe_port: int,
    api_port: int,
    gateway_ports: dict[str, tuple[int, int]],
) -> ServiceProcess:
    """The rendered template on `port`, TLS with a certificate for 127.0.0.1 and localhost."""
    shutil.rmtree(prefix, ignore_errors=True)
    (prefix / "logs").mkdir(parents=True)
    (prefix / "tmp").mkdir()
    cert = ca.issue("nginx", "127.0.0.1", "localhost")
    conf = load_render().render(
        NGINX_DIR / "chat.conf.template",
        LISTEN_PORT=port,
        FRONTEND_UPSTREAM=f"127.0.0.1:{fe_port}",
        API_UPSTREAM=f"127.0.0.1:{api_port}",
        GATEWAY_UPSTREAMS=[f"127.0.0.1:{gateway_ports[r][0]}" for r in REPLICAS],
        TLS_CERTIFICATE=cert.chain,
        TLS_CERTIFICATE_KEY=cert.key,
    )
    (prefix / "nginx.conf").write_text(conf)
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(exe).exists(), "nginx missing: apt-get install -y nginx (scripts/bootstrap.sh)"
    return ServiceProcess(
        name="nginx",
        argv=[exe, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        env={},
        log_dir=prefix / "logs",
        health_url=f"https://127.0.0.1:{port}/api/healthz",
        health_verify=ca.client_context(),
    ).start(timeout=20)
