"""Settings from the environment only (12-factor); see docs/contract.md for the table."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from chat_contracts.tokens import check_key
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "dev", "development"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    # A label on every log line, so one log stack can hold dev, staging and production.
    environment: Literal["development", "production", "test"] = "production"
    database_url: str = "sqlite+aiosqlite:///./chat.db"
    redis_url: str | None = None
    jwt_secret: SecretStr = Field(..., description="HS256 key, >= 32 random bytes")
    jwt_issuer: str = "chat-api"
    jwt_audience: str = "chat"
    access_token_ttl_seconds: int = Field(900, ge=30, le=900)
    refresh_token_ttl_seconds: int = Field(30 * 24 * 3600, ge=60)
    api_host: str = "0.0.0.0"
    api_port: int = 8000
    api_internal_host: str = "0.0.0.0"
    api_internal_port: int = 8001
    api_prefix: str = "/api"
    cors_origins: str = ""
    cookie_secure: bool = True
    log_level: str = "INFO"
    log_json: bool = True
    db_pool_size: int = Field(10, ge=1)
    db_max_overflow: int = Field(10, ge=0)
    # The gateway gives up on an API call after 5 s: a request still queued for a connection
    # after that is work nobody waits for, and it delays the requests behind it. So wait
    # briefly, then answer 503 + Retry-After and let the caller retry once the burst drains.
    db_pool_timeout_seconds: float = Field(2.0, gt=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # The internal port takes the gateway's batches: BATCH_MAX_ITEMS items of up to a 4 KiB
    # token and 4000 characters (6 bytes each when JSON-escaped) fit in 16 MiB.
    internal_max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # "N/period" strings as the `limits` library parses them.
    login_rate_per_ip: str = "20/minute"
    login_rate_per_username: str = "10/minute"
    register_rate_per_ip: str = "10/minute"
    message_history_max_limit: int = 200

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
