"""Fault-suite helpers beyond chat_testkit.client (the shared REST helpers, `Client` and
`Resilient`): registering with passwords the log check can find, and a session-wide pool
of users."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from chat_testkit import client as _client
from chat_testkit.client import User

PASSWORD_PREFIX = "pw-secret-"
# Every secret the suite hands out; the log check greps every service log for them.
SECRETS: set[str] = set()


def register(api_url: str, prefix: str = "f") -> User:
    user = _client.register(api_url, prefix, password=PASSWORD_PREFIX + uuid.uuid4().hex[:12])
    SECRETS.update((user.password, user.token, user.refresh))
    return user


_POOL: dict[str, list[User]] = {}


def users(api_url: str, n: int) -> list[User]:
    """n registered users from a session-wide pool (registering is argon2-bound, so the
    scenarios share identities; every scenario makes its own room)."""
    pool = _POOL.setdefault(api_url, [])
    missing = n - len(pool)
    if missing > 0:
        with ThreadPoolExecutor(4) as ex:
            pool.extend(ex.map(lambda _: register(api_url), range(missing)))
    return pool[:n]
