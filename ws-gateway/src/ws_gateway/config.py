"""Gateway settings, only from environment variables (names per docs/contract.md)."""

from __future__ import annotations

import socket
from functools import cached_property
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_origin(value: str) -> str:
    """An origin as browsers serialize it (RFC 6454): lower-case scheme and host, the port
    only when it is not the scheme's default, no path. ValueError for anything else."""
    try:
        url = urlsplit(value.strip())
        port = url.port
    except ValueError as exc:
        raise ValueError(f"not an origin: {value!r}") from exc
    if (
        url.scheme not in _DEFAULT_PORTS
        or not url.hostname
        or url.username is not None
        or url.path not in ("", "/")
        or url.query
        or url.fragment
    ):
        raise ValueError(f"not an origin (scheme://host[:port]): {value!r}")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    suffix = "" if port in (None, _DEFAULT_PORTS[url.scheme]) else f":{port}"
    return f"{url.scheme}://{host}{suffix}"


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
    # Comma list of origins ("scheme://host[:port]", written in any case, with or without a
    # default port or a trailing "/"); "*" allows any. See origin_allowed().
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

    @field_validator("allowed_origins")
    @classmethod
    def _origins_parse(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip() not in ("", "*"):
                canonical_origin(entry)  # a typo refuses to start instead of refusing everyone
        return value

    @cached_property
    def origins(self) -> frozenset[str]:
        entries = (e.strip() for e in self.allowed_origins.split(","))
        return frozenset(e if e == "*" else canonical_origin(e) for e in entries if e)

    def origin_allowed(self, origin: str | None) -> bool:
        """Exact: the header must equal an allowed origin in its canonical form, which is the
        only form browsers send. A trailing "/", upper case or an explicit default port never
        comes from a browser page, so it is not normalised into a match."""
        if origin is None:
            return self.allow_missing_origin
        allowed = self.origins
        return "*" in allowed or origin in allowed

    @property
    def heartbeat_seconds(self) -> float:
        """Refresh presence three times per TTL so one lost beat never flaps a user offline."""
        return max(self.presence_ttl_seconds / 3.0, 0.2)
