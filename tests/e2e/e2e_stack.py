"""The whole chat behind nginx, as real processes: api + 2 gateway replicas + frontend.

PostgreSQL and Redis come from the testkit fixtures; nginx (chat_testkit.nginx, the chart
Ingress stand-in) terminates TLS with a certificate from the suite's throw-away CA, so the
browser runs the production configuration: https:// and wss:// only, the Secure refresh
cookie, HSTS and an https:// Origin at the gateway. Every process logs into
artifacts/e2e/logs (nginx into artifacts/e2e/nginx/logs) so the secret-grep test can read
them all.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from chat_testkit import ServiceProcess, free_port
from chat_testkit.nginx import Nginx
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
REPLICAS = ("e2e-gw-1", "e2e-gw-2")
HSTS_SECONDS = 31536000


@dataclass
class Stack:
    log_dir: Path
    api: ServiceProcess
    frontend: ServiceProcess
    nginx: Nginx
    tls: ssl.SSLContext  # trusts the suite's CA only
    gateways: dict[str, ServiceProcess] = field(default_factory=dict)
    gateway_ops: dict[str, int] = field(default_factory=dict)
    _http: httpx.Client | None = None

    @property
    def port(self) -> int:
        return self.nginx.port

    @property
    def url(self) -> str:
        return self.nginx.url

    @property
    def ws_url(self) -> str:
        return self.nginx.ws_url

    @property
    def http(self) -> httpx.Client:
        """One client through nginx that verifies its certificate against the suite's CA."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.url, verify=self.tls, timeout=10)
        return self._http

    @property
    def access_log(self) -> Path:
        return self.nginx.access_log

    def all_logs(self) -> list[Path]:
        logs = sorted(self.log_dir.glob("*.log"))
        return [*logs, *sorted(self.nginx.log_dir.glob("*.log"))]

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
        self.nginx.stop(timeout=15)
        for proc in (self.frontend, *self.gateways.values(), self.api):
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

    # artifacts/e2e/nginx holds this run's config and logs only.
    shutil.rmtree(artifacts / "nginx", ignore_errors=True)
    cert = ca.issue("nginx", "127.0.0.1", "localhost")
    nginx = Nginx(
        artifacts / "nginx",
        port,
        frontend=f"127.0.0.1:{fe_port}",
        api=f"127.0.0.1:{api_port}",
        gateways=[f"127.0.0.1:{gateway_ports[r][0]}" for r in REPLICAS],
        cert=cert.chain,
        key=cert.key,
    ).start()
    return Stack(
        log_dir=log_dir,
        api=api,
        frontend=frontend,
        nginx=nginx,
        tls=ca.client_context(),
        gateways=gateways,
        gateway_ops={r: gateway_ports[r][1] for r in REPLICAS},
    )
