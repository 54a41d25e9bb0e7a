"""Helpers for the `make run` tests: start scripts/run_local.py, find its processes."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from chat_testkit.ports import free_port_base
from chat_testkit.process import pid_alive
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_local.py"
# Variables a developer's shell might carry that would change what `make run` does.
SCRUB = (
    "DATABASE_URL", "REDIS_URL", "GATEWAY_REPLICAS", "JWT_SECRET", "CORS_ORIGINS",
    "ALLOWED_ORIGINS", "RUN_LOCAL_PORT_BASE", "RUN_LOCAL_DIR", "RUN_LOCAL_HOST",
    "API_PORT", "API_INTERNAL_PORT", "FRONTEND_PORT", "FRONTEND_OPS_PORT",
    "GATEWAY_PORT", "GATEWAY_OPS_PORT", "REPLICA_ID", "TLS", "TLS_PORT", "COOKIE_SECURE",
)  # fmt: skip
PASSWORD = "run-local-pass-123"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chat_run_local", SCRIPT)
    assert spec and spec.loader
    if str(SCRIPT.parent) not in sys.path:  # run_local imports run_local_tls beside it
        sys.path.append(str(SCRIPT.parent))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (through /proc children lists)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if kid not in found:
                    found.add(kid)
                    todo.append(kid)
    return found


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    log: Path
    base: int
    run_dir: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.base}"

    @property
    def frontend_origin(self) -> str:
        return f"http://localhost:{self.base + 2}"

    def gateway(self, replica: int = 0) -> str:
        return f"ws://127.0.0.1:{self.base + 4 + 2 * replica}/ws"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not printed; output:\n{self.output()[-4000:]}")


def start_stack(tmp: Path, log: Path, extra_env: dict[str, str]) -> Stack:
    base = free_port_base()
    env = scrubbed_env(**extra_env)
    uv = shutil.which("uv")
    # What `make run` runs; the plain interpreter where uv is not on PATH.
    head = [uv, "run", "--frozen", "--no-sync", "python"] if uv else [sys.executable]
    argv = [*head, str(SCRIPT), "--port-base", str(base), "--run-dir", str(tmp / "run")]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Stack(proc, log, base, tmp / "run")


def stop_and_check(stack: Stack, sig: int = signal.SIGINT) -> None:
    """SIGINT (Ctrl-C) or SIGTERM -> exit 0, and no process of the stack survives."""
    children = descendants(stack.proc.pid)
    # api + gateway(s) + frontend, plus the interpreter when uv launched it (uv on PATH).
    expected = 3 + (Path(str(stack.proc.args[0])).name == "uv")
    assert len(children) >= expected, children
    stack.proc.send_signal(sig)
    try:
        code = stack.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stack.proc.kill()
        raise
    assert code == 0, stack.output()[-4000:]
    assert "run_local: stopped" in stack.output()
    survivors = {pid for pid in children if pid_alive(pid)}
    assert not survivors, f"still running after exit: {survivors}"


def register_and_login(api: str, tag: str) -> dict[str, Any]:
    name = f"{tag}{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=api, timeout=10) as http:
        r = http.post("/api/register", json={"username": name, "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = http.post("/api/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return dict(r.json())


@contextmanager
def joined(
    url: str, origin: str, login: dict[str, Any], room_id: int
) -> Iterator[ClientConnection]:
    """A gateway socket sent from the browser's origin, authenticated and joined to a room."""
    with connect(url, origin=Origin(origin), open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": login["access_token"]}))
        assert json.loads(ws.recv(timeout=10))["type"] == "auth_ok"
        ws.send(json.dumps({"type": "join", "room_id": room_id}))
        assert json.loads(ws.recv(timeout=10))["type"] == "joined"
        yield ws


def next_frame(ws: ClientConnection, kind: str, timeout: float = 15) -> dict[str, Any]:
    """The next frame of `kind`, skipping presence/typing chatter."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if frame["type"] == kind:
            return frame
        assert frame["type"] in {"event", "presence", "typing", "ack"}, frame
    raise AssertionError(f"no {kind} frame within {timeout}s")


def send_message(ws: ClientConnection, room_id: int, text: str) -> dict[str, Any]:
    """message frame -> the stored Message from its ack."""
    cid = uuid.uuid4().hex
    frame = {"type": "message", "room_id": room_id, "client_msg_id": cid, "content": text}
    ws.send(json.dumps(frame))
    ack = next_frame(ws, "ack")
    assert ack["client_msg_id"] == cid
    return dict(ack["message"])


def bearer(login: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {login['access_token']}"}


def create_room(api: str, login: dict[str, Any], name: str) -> int:
    r = httpx.post(
        f"{api}/api/rooms", json={"name": name, "kind": "public"}, headers=bearer(login), timeout=10
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def scrubbed_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that would change what `make run` does."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update(extra)
    return env
