"""The env builders give every suite the same base settings and keep its overrides."""

from __future__ import annotations

from chat_testkit.services import TEST_AUTH_RATE, api_env, frontend_env, gateway_env


def test_api_env_loopback_ports_and_test_auth_rates() -> None:
    """The API listens on loopback, and the auth limits admit a suite's many logins."""
    env = api_env(database_url="db", redis_url="r", jwt_secret="s", port=1, internal_port=2)
    assert env["API_HOST"] == env["API_INTERNAL_HOST"] == "127.0.0.1"
    assert (env["API_PORT"], env["API_INTERNAL_PORT"]) == ("1", "2")
    assert env["LOGIN_RATE_PER_USERNAME"] == TEST_AUTH_RATE


def test_api_env_keeps_own_limits_and_overrides() -> None:
    """auth_rate=None sets no limit; a keyword override wins."""
    env = api_env(
        database_url="db",
        redis_url="r",
        jwt_secret="s",
        port=1,
        internal_port=2,
        auth_rate=None,
        LOGIN_RATE_PER_IP="5/minute",
    )
    assert "LOGIN_RATE_PER_USERNAME" not in env
    assert env["LOGIN_RATE_PER_IP"] == "5/minute"


def test_gateway_env_optional_redis_and_origins() -> None:
    """REDIS_URL and ALLOWED_ORIGINS are set only when given; overrides win."""
    bare = gateway_env(port=1, ops_port=2, replica="g", api_url="a", api_internal_url="b")
    assert "REDIS_URL" not in bare and "ALLOWED_ORIGINS" not in bare
    full = gateway_env(
        port=1,
        ops_port=2,
        replica="g",
        api_url="a",
        api_internal_url="b",
        redis_url="r",
        allowed_origins="http://o",
        REDIS_URL="r2",
    )
    assert (full["REDIS_URL"], full["ALLOWED_ORIGINS"]) == ("r2", "http://o")


def test_frontend_env() -> None:
    """The frontend listens on loopback on both ports."""
    env = frontend_env(port=1, ops_port=2, X="y")
    assert (env["FRONTEND_HOST"], env["FRONTEND_PORT"], env["FRONTEND_OPS_PORT"]) == (
        "127.0.0.1",
        "1",
        "2",
    )
    assert env["X"] == "y"
