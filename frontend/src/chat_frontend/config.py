"""Runtime configuration, from environment variables only (12-factor)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every field maps to the upper-case env var of the same name (see README)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    public_api_base: str = Field(
        "/api",
        description="API base the browser calls. A path = same origin as the page (ingress). "
        "An absolute `http(s)://host:port/api` is added to CSP `connect-src`; the API must "
        "then list the frontend origin in `CORS_ORIGINS`.",
    )
    public_ws_url: str = Field(
        "/ws",
        description="Gateway WebSocket URL. A path = same host, `ws:`/`wss:` following the "
        "page's scheme. An absolute `ws(s)://host:port/ws` is added to `connect-src`; the "
        "gateway must then list the frontend origin in `ALLOWED_ORIGINS`.",
    )

    frontend_host: str = Field(
        "0.0.0.0", description="Bind address of both servers (a container listens on all)."
    )
    frontend_port: int = Field(default=8080, ge=0, le=65535, description="Site port.")
    frontend_ops_port: int = Field(
        default=9102,
        ge=0,
        le=65535,
        description="Health/metrics port (never routed by the ingress).",
    )

    hsts_max_age_seconds: int = Field(
        default=0,
        ge=0,
        le=2 * 365 * 24 * 3600,
        description="`Strict-Transport-Security` max-age on HTTPS responses (never over "
        "plain http); 0 = no header. Set it only where the whole host is HTTPS-only: "
        "browsers then refuse `http://` to it, on any port, for that long.",
    )
    hsts_include_subdomains: bool = Field(
        False, description="Adds `includeSubDomains` (every subdomain must be HTTPS too)."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="structlog level (any case)."
    )
    log_json: bool = Field(True, description="JSON lines on stderr (`false` = console renderer).")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        return _check_url(value, {"http", "https"}, "PUBLIC_API_BASE").rstrip("/") or "/"

    @field_validator("public_ws_url")
    @classmethod
    def _check_ws_url(cls, value: str) -> str:
        return _check_url(value, {"ws", "wss"}, "PUBLIC_WS_URL")

    def connect_origins(self) -> list[str]:
        """Absolute API/WS origins the page must be allowed to reach (CSP connect-src)."""
        origins: list[str] = []
        for url in (self.public_api_base, self.public_ws_url):
            parts = urlsplit(url)
            if parts.scheme and parts.netloc:
                origin = f"{parts.scheme}://{parts.netloc}"
                if origin not in origins:
                    origins.append(origin)
        return origins

    @property
    def ws_on_page_host(self) -> bool:
        """A relative PUBLIC_WS_URL: the socket goes to the page's own host and scheme."""
        return not urlsplit(self.public_ws_url).netloc

    def hsts(self) -> str | None:
        """The Strict-Transport-Security value, or None when it is off."""
        if not self.hsts_max_age_seconds:
            return None
        value = f"max-age={self.hsts_max_age_seconds}"
        return f"{value}; includeSubDomains" if self.hsts_include_subdomains else value

    def browser_config(self) -> dict[str, str]:
        """The runtime config the templates hand to the JS (never secrets)."""
        return {"apiBase": self.public_api_base, "wsUrl": self.public_ws_url}


def _check_url(value: str, schemes: set[str], name: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    # Relative: a path on the page's own origin. Absolute: one of the allowed schemes.
    if not parts.scheme and not parts.netloc and value.startswith("/"):
        return value
    if parts.scheme in schemes and parts.netloc:
        # Characters that could break out of the CSP header or the JSON block are refused.
        if any(ch in value for ch in " ;,'\"<>\\"):
            raise ValueError(f"{name} contains characters not allowed in a URL")
        return value
    raise ValueError(f"{name} must be a path starting with / or a {'/'.join(sorted(schemes))} URL")


@lru_cache
def get_settings() -> Settings:
    return Settings()
