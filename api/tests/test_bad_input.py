"""Bodies JSON cannot carry back: a 422 with an encodable detail that never echoes input.

test_schemathesis.py covers the class on every operation of the real process; these are
the routes of the original report, on both databases.
"""

from __future__ import annotations

import json

import pytest
from api_testing import Api

pytestmark = pytest.mark.integration

# Raw JSON text: NaN, Infinity and 1e400 (which Python's json reads as inf) are not JSON,
# and the escape is a lone surrogate; Python's json accepts all four.
BAD_VALUES = ["NaN", "-Infinity", "1e400", '"a\\ud800b"', "1" + "0" * 400]


def _routes(room_id: int) -> list[tuple[str, str, list[str]]]:
    """method, path, the body's fields (the bad value goes into each in turn)."""
    return [
        ("POST", "/api/register", ["username", "password"]),
        ("POST", "/api/login", ["username", "password"]),
        ("POST", "/api/messages", ["room_id", "content", "client_msg_id"]),
        ("POST", "/api/rooms", ["name", "kind"]),
        ("PUT", f"/api/rooms/{room_id}/read", ["seq"]),
        ("POST", "/api/dms", ["user_id"]),
    ]


def _strict(text: str) -> object:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in a response")

    return json.loads(text, parse_constant=refuse)


async def test_unencodable_values_are_422_on_the_reported_routes(api: Api) -> None:
    """NaN, Infinity, 1e400, huge integers and lone surrogates, in any field or as a key:
    422 whose detail keeps only type/loc/msg/ctx and is strict, UTF-8 encodable JSON."""
    alice = await api.user()
    room = await api.room(alice)
    headers = {**alice.auth, "content-type": "application/json"}
    for method, path, fields in _routes(room["id"]):
        bodies = [f'{{"{field}": {bad}}}' for field in fields for bad in BAD_VALUES]
        bodies.append(f'{{"{fields[0]}": 1, "k\\udc00": 1}}')  # the surrogate in a key
        for body in bodies:
            resp = await api.client.request(method, path, content=body, headers=headers)
            assert resp.status_code == 422, (path, body, resp.text)
            resp.content.decode("utf-8")
            detail = _strict(resp.text)["detail"]  # type: ignore[index]
            assert all(set(e) <= {"type", "loc", "msg", "ctx"} for e in detail), detail
    check = await api.internal.post(
        "/validate-token", content=b'{"token": NaN}', headers={"content-type": "application/json"}
    )
    assert check.status_code == 422 and _strict(check.text)


async def test_validation_errors_never_echo_the_body(api: Api) -> None:
    """A 422 does not send back what was posted (a missing username next to a password)."""
    resp = await api.client.post("/api/register", json={"password": "hunter2-hunter2"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "username"]
    assert "hunter2" not in resp.text
