"""Gateway settings, only from environment variables (names per docs/contract.md)."""

from __future__ import annotations

import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every field maps to the upper-case environment variable of the same name."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    gateway_host: str = "0.0.0.0"
    gateway_port: int = 8765
    gateway_path: str = "/ws"
    gateway_ops_host: str = "0.0.0.0"
    gateway_ops_port: int = 9100

    api_url: str = "http://127.0.0.1:8000"
    api_internal_url: str = "http://127.0.0.1:8001"
    api_prefix: str = "/api"
    api_timeout_seconds: float = 5.0
    # HTTP connections to the API (auth bursts of a reconnect storm + store batches).
    api_max_connections: int = 200
    # Batched message stores (store.py): batch requests in flight at once, and messages
    # allowed to wait for one before sends are refused "overloaded" (retryable).
    store_concurrency: int = 4
    store_queue_max: int = 5000
    # While a batch is in flight, another one opens only once this many sends wait: at
    # moderate load the queue then grows into one larger request instead of paying the
    # API's per-request cost per message (measured: 1.5 items per batch without it).
    store_parallel_min: int = Field(32, ge=1)

    redis_url: str | None = None
    # Comma list of exact origins ("scheme://host[:port]"); "*" allows any.
    allowed_origins: str = "http://localhost:8080,http://127.0.0.1:8080"
    # Browsers always send Origin; non-browser clients (bots, tests, load tools) may not.
    allow_missing_origin: bool = True
    replica_id: str = Field(default_factory=socket.gethostname)

    drain_seconds: float = 20.0
    # Unready but still serving for this long before closing sockets, so load balancers
    # stop routing here first (0 when a preStop sleep already does this).
    drain_delay_seconds: float = 0.0
    ping_interval_seconds: float = 20.0
    ping_timeout_seconds: float = 20.0
    close_timeout_seconds: float = 5.0
    auth_timeout_seconds: float = 5.0
    reauth_grace_seconds: float = 30.0

    max_frame_bytes: int = 64 * 1024
    send_queue_max: int = 512
    max_sockets_per_user: int = 10
    # Token bucket over every client frame: steady rate and burst.
    rate_per_second: float = 10.0
    rate_burst: float = 30.0
    # Frames refused by the bucket before the socket is closed with 1008.
    rate_abuse_limit: int = 20
    typing_min_interval_seconds: float = 1.0

    resume_cap: int = 500
    presence_ttl_seconds: float = 15.0
    presence_interval_seconds: float = 1.0
    canary_interval_seconds: float = 2.0
    readiness_interval_seconds: float = 2.0

    log_level: str = "INFO"
    log_json: bool = True

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(
            o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()
        )

    def origin_allowed(self, origin: str | None) -> bool:
        if origin is None:
            return self.allow_missing_origin
        allowed = self.origins
        return "*" in allowed or origin.rstrip("/") in allowed

    @property
    def heartbeat_seconds(self) -> float:
        """Refresh presence three times per TTL so one lost beat never flaps a user offline."""
        return max(self.presence_ttl_seconds / 3.0, 0.2)
