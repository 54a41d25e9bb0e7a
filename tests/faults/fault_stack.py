"""Real processes for the fault suite: the API (restartable on fixed ports), gateway
replicas, and Prometheus-text scraping. nginx in front of them is chat_testkit.nginx.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from chat_testkit import PostgresServer, RedisServer, ServiceProcess, free_port, wait_http_ok
from chat_testkit.services import (
    FAST_GATEWAY_TIMINGS,
    Replica,
    api_env,
    api_process,
    migrate_api,
    start_replicas,
)

JWT_SECRET = "fault-suite-secret-0123456789abcdef-0123456789"
ORIGIN = "http://chat.faults.test"
# nginx's "/" upstream: the discard port, where nothing listens (the suite loads no page).
NO_FRONTEND = "127.0.0.1:9"

# The shared pair: settings chosen so the non-destructive scenarios can all use it.
PAIR_ENV = {
    "SEND_QUEUE_MAX": "64",  # a slow consumer is cut (1013) after 64 queued frames
    # A stalled reader must hit the queue bound (1013) before the keepalive gives up (1011).
    "PING_TIMEOUT_SECONDS": "60",
    "MAX_SOCKETS_PER_USER": "50",  # the reconnect storm opens 20 sockets per user
    "PING_INTERVAL_SECONDS": "2",  # well under the 5 s proxy read timeout of scenario 10
    "DRAIN_DELAY_SECONDS": "0.5",  # drain: unready first, then close sockets
}


def scrape(url: str) -> dict[str, float]:
    """Prometheus text exposition -> {'name{labels}': value} (comments dropped)."""
    out: dict[str, float] = {}
    text = httpx.get(url, timeout=5).text
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum every sample of `name` whose labels include all of `labels`."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
        if all(have.get(k) == v for k, v in labels.items()):
            total += value
    return total


@dataclass
class Api:
    """`python -m chat_api serve` on fixed ports, so kill + start keeps every URL valid."""

    pg: PostgresServer
    redis: RedisServer
    log_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    proc: ServiceProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.internal_port}"

    def env(self) -> dict[str, str]:
        # Every fault-suite user registers and logs in from 127.0.0.1.
        return api_env(
            database_url=self.database_url,
            redis_url=self.redis.url,
            jwt_secret=JWT_SECRET,
            port=self.port,
            internal_port=self.internal_port,
            auth_rate="1000000/minute",
        )

    def migrate(self) -> None:
        migrate_api(self.env())

    def start(self) -> Api:
        self.proc = api_process(self.env(), self.log_dir).start(timeout=60)
        wait_http_ok(f"{self.url}/api/healthz", timeout=30, proc=self.proc.proc)
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def metrics(self) -> dict[str, float]:
        return scrape(f"{self.internal_url}/metrics")

    def validate_calls(self) -> float:
        """Requests the API served on its internal /validate-token route (any status)."""
        return metric_sum(self.metrics(), "chat_api_requests_total", route="/validate-token")


@dataclass
class Gateway(Replica):
    def metrics(self) -> dict[str, float]:
        return scrape(self.ops + "/metrics")

    def rss_kib(self) -> int:
        """Resident set size from /proc (the gateway's memory, not the test's)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) if match else 0

    def restart(self) -> None:
        """Start a fresh process on the same ports (after a kill)."""
        self.proc.kill()
        self.proc = ServiceProcess(
            name=self.proc.name, argv=self.proc.argv, env=self.env, log_dir=self.proc.log_dir
        )
        self.proc.start()
        wait_http_ok(self.ops + "/healthz", timeout=60, proc=self.proc.proc)


class GatewayLauncher:
    """Gateway replicas of the fault suite: fast timings and a generous rate limit."""

    def __init__(self, api: Api, log_dir: Path, label: str) -> None:
        self.api = api
        self.log_dir = log_dir
        self.label = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:50]
        self.started: list[Gateway] = []

    def __call__(self, count: int = 2, **env: str) -> list[Gateway]:
        batch = [
            Gateway(r.proc, r.port, r.ops_port, r.replica, r.env)
            for r in start_replicas(
                count,
                log_dir=self.log_dir,
                label=self.label,
                api_url=self.api.url,
                api_internal_url=self.api.internal_url,
                redis_url=self.api.redis.url,
                allowed_origins=ORIGIN,
                timeout=60,
                **{**FAST_GATEWAY_TIMINGS, "RATE_PER_SECOND": "200", "RATE_BURST": "400", **env},
            )
        ]
        self.started.extend(batch)
        return batch

    def kill_all(self) -> None:
        for gw in self.started:
            gw.proc.kill()
