"""Settings from the environment only (12-factor); `make docs` renders the READMEs' tables
from the Field descriptions below."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from chat_contracts.tokens import check_key
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "dev", "development"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    environment: Literal["development", "production", "test"] = Field(
        "production",
        description="A label on every log line, so one log stack can hold dev, staging and "
        "production.",
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///./chat.db",
        description="SQLAlchemy URL; production: `postgresql+psycopg://user:pass@host/db`.",
    )
    redis_url: str | None = Field(
        None,
        description="Events and revocations are published here; shared rate-limit budget. "
        "Unset: one API process keeps them for gateways to follow on the internal port "
        "(`/events/stream`).",
    )
    jwt_secret: SecretStr = Field(
        ...,
        description="HS256 key, >= 32 random bytes, not a placeholder; otherwise start-up "
        "fails with exit code 2 naming the variable.",
    )
    jwt_issuer: str = Field("chat-api", description="Required `iss` claim of every token.")
    jwt_audience: str = Field("chat", description="Required `aud` claim of every token.")
    access_token_ttl_seconds: int = Field(900, ge=30, le=900, description="Access token lifetime.")
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, ge=60, description="Refresh token family lifetime (rotating)."
    )
    api_host: str = Field("0.0.0.0", description="Bind address of the public app.")
    api_port: int = Field(8000, description="Public app port (routes under `API_PREFIX`).")
    api_internal_host: str = Field("0.0.0.0", description="Bind address of the internal app.")
    api_internal_port: int = Field(
        8001,
        description="Internal app port (`/validate-token`, `/messages/batch`, `/metrics`); "
        "never routed by the ingress.",
    )
    api_prefix: str = Field(
        "/api",
        description="Public routes' prefix (the ingress forwards `/api` unchanged); must "
        "start with `/`.",
    )
    cors_origins: str = Field(
        "",
        description="Comma list of browser origins allowed to call the API cross-origin "
        "(credentials allowed for those, `Retry-After` readable by their pages).",
    )
    cookie_secure: bool = Field(
        True,
        description="`Secure` flag on the `chat_refresh` cookie (off only for plain-HTTP "
        "local runs).",
    )
    log_level: str = Field("INFO", description="structlog level.")
    log_json: bool = Field(True, description="JSON log lines; secrets are redacted.")
    db_pool_size: int = Field(
        10, ge=1, description="Connection pool size (PostgreSQL and file SQLite)."
    )
    db_max_overflow: int = Field(
        10, ge=0, description="Connections allowed beyond the pool size under load."
    )
    # The gateway gives up on an API call after 5 s: a request still queued for a connection
    # after that is work nobody waits for, and it delays the requests behind it. So wait
    # briefly, then answer 503 + Retry-After and let the caller retry once the burst drains.
    db_pool_timeout_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest wait for a pool connection, then 503 + `Retry-After: 1`: the "
        "gateway gives up on an API call after 5 s, so waiting longer does work nobody "
        "waits for.",
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Larger bodies on the public port get 413 before parsing."
    )
    # The internal port takes the gateway's batches: BATCH_MAX_ITEMS items of up to a 4 KiB
    # token and 4000 characters (6 bytes each when JSON-escaped) fit in 16 MiB.
    internal_max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Body cap on the internal port: a full `POST /messages/batch` (500 items "
        "of a 4 KiB token and 4000 characters) fits.",
    )
    # "N/period" strings as the `limits` library parses them.
    login_rate_per_ip: str = Field(
        "20/minute",
        description="Login attempts per client IP (`limits` syntax); 429 + `Retry-After`.",
    )
    login_rate_per_username: str = Field(
        "10/minute", description="Login attempts per username (`limits` syntax)."
    )
    register_rate_per_ip: str = Field(
        "10/minute", description="Registrations per client IP (`limits` syntax)."
    )
    message_history_max_limit: int = Field(
        200, description="Most messages one history page returns; a larger `limit` is cut to it."
    )

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        if raw.lower() in _PLACEHOLDERS:
            raise ValueError("JWT_SECRET is a placeholder; generate one: openssl rand -hex 32")
        check_key(raw)
        return value

    @field_validator("api_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        value = value.rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError("API_PREFIX must start with '/'")
        return value

    @cached_property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
