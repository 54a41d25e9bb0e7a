"""Property-based runs of every documented operation against the real server process.

Schemathesis generates valid and invalid requests from the OpenAPI schema; the API
must never answer 5xx and must answer what its schema documents. Hypothesis adds the
bodies schemathesis never sends (NaN, Infinity, huge numbers, lone surrogates).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_contracts.batch import BATCH_PATH
from chat_testkit import ServiceProcess, free_port
from chat_testkit.postgres import PostgresServer
from hypothesis import HealthCheck, given, settings, strategies as st

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Fuzzed:
    """The running API and what it was seeded with."""

    base: str
    internal: str
    auth: dict[str, str]
    room_id: int
    message_id: int


@pytest.fixture(scope="module")
def api_process(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    db = postgres_server.create_database("schemathesis")
    port, internal = free_port(), free_port()
    env = {
        "DATABASE_URL": db,
        "JWT_SECRET": os.urandom(32).hex(),
        "API_PORT": str(port),
        "API_INTERNAL_PORT": str(internal),
        "API_HOST": "127.0.0.1",
        "API_INTERNAL_HOST": "127.0.0.1",
        "COOKIE_SECURE": "false",
        "LOGIN_RATE_PER_IP": "100000/minute",
        "LOGIN_RATE_PER_USERNAME": "100000/minute",
        "REGISTER_RATE_PER_IP": "100000/minute",
    }
    subprocess.run(
        [sys.executable, "-m", "chat_api", "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    logs = tmp_path_factory.mktemp("schemathesis")
    proc = ServiceProcess(
        "api-schemathesis",
        [sys.executable, "-m", "chat_api", "serve"],
        env,
        logs,
        health_url=f"http://127.0.0.1:{port}/api/healthz",
    ).start(timeout=120)  # a loaded 2-core CI box imports slowly
    base = f"http://127.0.0.1:{port}"
    # A user with a room and a message, so generated ids sometimes hit real rows.
    httpx.post(
        f"{base}/api/register", json={"username": "fuzzer", "password": "fuzzer-password"}
    ).raise_for_status()
    token = httpx.post(
        f"{base}/api/login", json={"username": "fuzzer", "password": "fuzzer-password"}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    room = httpx.post(
        f"{base}/api/rooms", json={"name": "fuzz", "kind": "public"}, headers=auth
    ).json()
    message = httpx.post(
        f"{base}/api/messages",
        json={"room_id": room["id"], "content": "seed", "client_msg_id": "seed"},
        headers=auth,
    )
    message.raise_for_status()
    try:
        yield Fuzzed(base, f"http://127.0.0.1:{internal}", auth, room["id"], message.json()["id"])
    finally:
        proc.terminate()
        log = proc.read_log()
        Path(logs / "api.log").write_text(log)
        assert '"level": "error"' not in log, log[-4000:]


def test_api_conforms_to_its_schema(api_process: Fuzzed, tmp_path: Path) -> None:
    """All schemathesis checks on every operation: no 5xx, only documented statuses and shapes."""
    base, auth = api_process.base, api_process.auth
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{base}/api/openapi.json",
            "--checks",
            "all",
            # See schemathesis.toml for why this one heuristic is off.
            "--exclude-checks",
            "ensure_resource_availability",
            "--max-examples",
            "10",
            "--seed",
            "20261129",
            # One worker: workers are threads, each running Hypothesis, which parses lambda
            # source (ast) to describe strategies. CPython 3.11 keeps the AST builder's
            # recursion depth in process-wide state, so two threads parsing at once can end
            # one parse at the other's depth: "SystemError: AST constructor recursion depth
            # mismatch" (cpython gh-106905's family), seen in 1 of 3 runs with 2 workers.
            "--workers",
            "1",
            "--header",
            f"Authorization: {auth['Authorization']}",
            # Logout and password change would end the fuzzer's own session mid-run;
            # both have explicit tests.
            "--exclude-path-regex",
            "^/api/(logout|users/me)$",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
            "--max-time",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) >= 20, result.stdout[-3000:]


# Schemathesis never sends these: its string generators exclude lone surrogates ("cannot
# be encoded for the wire") and its numbers are finite. Python's json, which parses the
# API's bodies, accepts all of them, so they reach validation as NaN, inf and str values
# that JSON cannot encode back.
_LONE_SURROGATE = st.tuples(
    st.text(max_size=5), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), st.text()
).map("".join)
_BAD = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=2**63, max_value=10**4000),  # below Python's 4300-digit limit
    st.integers(min_value=-(10**4000), max_value=-(2**63)),
    _LONE_SURROGATE,
)


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _plain(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Ordinary JSON shaped like `schema` (valid or not), so validation gets past the top."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        return st.one_of([_plain(s, spec) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return st.fixed_dictionaries({}, optional={k: _plain(v, spec) for k, v in props.items()})
    if kind == "array":
        return st.lists(_plain(schema.get("items", {}), spec), max_size=2)
    if kind == "integer":
        return st.integers(-1, 10)
    if kind == "string":
        return st.text(max_size=12)
    return st.none() | st.booleans()


@st.composite
def _hostile(draw: st.DrawFn, schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A value shaped like `schema` holding at least one value JSON cannot carry, at any
    depth: in a declared field, in an extra key or as that key, or instead of the whole."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        return draw(_hostile(draw(st.sampled_from(schema["anyOf"])), spec))
    kind = schema.get("type")
    if kind == "object" and draw(st.integers(0, 4)):
        props = schema.get("properties", {})
        body = draw(_plain(schema, spec))
        target = draw(st.sampled_from([*props, None]))
        if target is None:  # an extra key: a bad key, or a bad value under any key
            key, value = draw(
                st.tuples(_LONE_SURROGATE, _plain({}, spec)) | st.tuples(st.text(max_size=8), _BAD)
            )
            body[key] = value
        else:
            body[target] = draw(_hostile(props[target], spec))
        return body
    if kind == "array" and draw(st.integers(0, 4)):
        items: list[Any] = draw(_plain(schema, spec))
        items.insert(draw(st.integers(0, len(items))), draw(_hostile(schema["items"], spec)))
        return items
    return draw(_BAD)


def _json_operations(url: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    spec = httpx.get(url).json()
    return [
        (method.upper(), path, op["requestBody"]["content"]["application/json"]["schema"], spec)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]


def _strict_json(raw: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"response holds {constant}, which JSON cannot carry")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def _fuzz_operation(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body_schema: tuple[dict[str, Any], dict[str, Any]],
    headers: dict[str, str],
) -> None:
    # The batch answers per item (each item's fields are validated on their own).
    expected = {422, 200} if path == BATCH_PATH else {422}

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=_hostile(*body_schema))
    def send(body: Any) -> None:
        try:
            conn.request(method, path, json.dumps(body).encode(), headers)
            sock = conn.sock
            resp = conn.getresponse()
            raw = resp.read()
        except BaseException:
            conn.close()  # shrinking goes on with the next example on a fresh connection
            raise
        assert resp.status in expected, (method, path, resp.status, raw[:500])
        _strict_json(raw)
        # uvicorn closes the connection after a 500; a clean answer keeps it open.
        assert not resp.will_close and conn.sock is sock

    send()


def test_unencodable_bodies_are_422_on_every_route_and_keep_the_connection(
    api_process: Fuzzed,
) -> None:
    """Any JSON-body operation of either app, a NaN/Infinity/huge number/lone surrogate
    anywhere in the body: a 422 whose detail is strict JSON, on one kept-alive connection."""
    # Path ids of the seeded rows, so validation is reached past the route's own lookups.
    ids = {"room_id": str(api_process.room_id), "message_id": str(api_process.message_id)}
    headers = {**api_process.auth, "Content-Type": "application/json"}
    seen: set[str] = set()
    for base, schema_path in (
        (api_process.base, "/api/openapi.json"),
        (api_process.internal, "/openapi.json"),
    ):
        conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
        for method, template, schema, spec in _json_operations(base + schema_path):
            path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m[1], "1"), template)
            _fuzz_operation(conn, method, path, (schema, spec), headers)
            seen.add(f"{method} {template}")
        conn.close()
    issue = {"/api/register", "/api/login", "/api/messages", "/api/rooms", "/api/dms"}
    assert {f"POST {p}" for p in issue} | {"PUT /api/rooms/{room_id}/read"} <= seen, seen
    assert f"POST {BATCH_PATH}" in seen and "POST /validate-token" in seen, seen
