"""Gateway settings, only from environment variables (tables rendered by `make docs`)."""

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

    gateway_host: str = Field("0.0.0.0", description="Bind address of the client WebSocket.")
    gateway_port: int = Field(8765, description="Client WebSocket port.")
    gateway_path: str = Field("/ws", description="WebSocket path (the ingress routes it).")
    gateway_ops_host: str = Field("0.0.0.0", description="Bind address of the ops listener.")
    gateway_ops_port: int = Field(
        9100, description="`/healthz`, `/readyz`, `/metrics`; never routed by the ingress."
    )

    api_url: str = Field(
        "http://127.0.0.1:8000", description="Public API (messages, rooms, history)."
    )
    api_internal_url: str = Field(
        "http://127.0.0.1:8001",
        description="Internal API: `/validate-token`, `/messages/batch`, `/healthz`.",
    )
    api_prefix: str = Field("/api", description="The API's public route prefix.")
    api_timeout_seconds: float = Field(
        5.0,
        description="Per API call (a store batch is one call); also the longest wait for a "
        "free connection.",
    )
    api_max_connections: int = Field(
        200,
        description="HTTP connections to the API (token checks of a reconnect storm plus "
        "store batches); calls beyond it wait.",
    )
    # Batched message stores (store.py): batch requests in flight at once, and messages
    # allowed to wait for one before sends are refused "overloaded" (retryable).
    store_concurrency: int = Field(
        4,
        description="Store batch requests in flight at once (keep near the API's DB pool "
        "size per replica).",
    )
    store_queue_max: int = Field(
        5000,
        description="Messages waiting for a batch slot; beyond it sends are nacked "
        'retryable "overloaded".',
    )
    # While a batch is in flight, another one opens only once this many sends wait: at
    # moderate load the queue then grows into one larger request instead of paying the
    # API's per-request cost per message (measured: 1.5 items per batch without it).
    store_parallel_min: int = Field(
        32,
        ge=1,
        description="While a batch is in flight, another opens only once this many sends "
        "wait, so moderate load makes one larger batch instead of many small requests.",
    )

    redis_url: str | None = Field(
        None,
        description="Redis for pub/sub and presence; unset = one replica following the API's "
        "event stream (`/events/stream` on `API_INTERNAL_URL`).",
    )
    # Comma list of origins ("scheme://host[:port]", written in any case, with or without a
    # default port or a trailing "/"); "*" allows any. See origin_allowed().
    allowed_origins: str = Field(
        "http://localhost:8080,http://127.0.0.1:8080",
        description="Comma list of origins `scheme://host[:port]` allowed to open a socket "
        "(http/https; normalised, anything else stops start-up); `*` = any. The handshake's "
        "Origin must equal one exactly.",
    )
    allow_missing_origin: bool = Field(
        True,
        description="Accept handshakes without an Origin header (browsers always send one; "
        "bots, tests and load tools may not).",
    )
    replica_id: str = Field(
        default_factory=socket.gethostname,
        description="Presence member suffix and canary channel; defaults to the hostname.",
    )

    drain_seconds: float = Field(
        20.0,
        description="Upper bound of the drain after SIGTERM (keep below the pod's grace "
        "period): in-flight stores get until then, then every socket is closed 1012 at once.",
    )
    drain_delay_seconds: float = Field(
        0.0,
        description="Stay unready but serving this long before the drain closes sockets "
        "(0 when a preStop sleep already does this).",
    )
    ping_interval_seconds: float = Field(
        20.0, description="Keep-alive pings; keep well under every proxy idle timeout."
    )
    ping_timeout_seconds: float = Field(
        20.0, description="A socket whose pong is this late is closed."
    )
    close_timeout_seconds: float = Field(5.0, description="Closing handshake wait.")
    auth_timeout_seconds: float = Field(5.0, description="Deadline for the first `auth` frame.")
    reauth_grace_seconds: float = Field(
        30.0, description="Time to answer `reauth_required` after the token expires."
    )

    max_frame_bytes: int = Field(64 * 1024, description="Larger frames close the socket 1009.")
    send_queue_max: int = Field(
        512,
        description="Frames queued per socket once it stopped keeping up, before close 1013.",
    )
    max_sockets_per_user: int = Field(
        10, description="Per replica; one more is refused 1008 before `auth_ok`."
    )
    rate_per_second: float = Field(
        10.0, description="Token bucket over every client frame: steady rate."
    )
    rate_burst: float = Field(30.0, description="Token bucket over every client frame: burst.")
    rate_abuse_limit: int = Field(
        20,
        description="Frames refused by the bucket (each answered: a nack or `rate_limited`) "
        "before close 1008; forgotten once the bucket is full again (a calm client).",
    )
    typing_min_interval_seconds: float = Field(
        1.0, description="Typing events accepted at most this often per socket and room."
    )

    resume_cap: int = Field(
        500, description="Most messages replayed per room on `resume` before a `reset`."
    )
    presence_ttl_seconds: float = Field(
        15.0,
        description="A dead replica's users go offline within this (heartbeat every TTL/3).",
    )
    presence_interval_seconds: float = Field(1.0, description="Presence diff/batch period.")
    canary_interval_seconds: float = Field(
        2.0, description="Pub/sub probe period; unready after ~3 missed probes."
    )
    readiness_interval_seconds: float = Field(2.0, description="API reachability check period.")

    log_level: str = Field("INFO", description="structlog level.")
    log_json: bool = Field(True, description="JSON log lines; tokens are never logged.")

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
