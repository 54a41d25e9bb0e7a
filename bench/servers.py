"""The servers under test, as real processes on loopback: PostgreSQL, Redis, the API, gateway
replicas (started like ws-gateway/tests/conftest.py does), the Socket.IO peer and the floor."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from chat_testkit import PostgresServer, RedisServer, ServiceProcess, free_port, wait_http_ok
from chat_testkit.services import api_env, gateway_env

BENCH_DIR = Path(__file__).resolve().parent
PEER_DIR = BENCH_DIR / "peers" / "socketio"
JWT_SECRET = "bench-secret-not-for-production-0123456789abcdef"
PASSWORD = "correct horse battery"


@dataclass
class Replica:
    url: str  # ws://host:port (the adapter adds the path)
    proc: ServiceProcess


@dataclass
class Target:
    """One system under test: its replicas and which pids count as its cost."""

    name: str
    replicas: list[Replica] = field(default_factory=list)
    backend_pids: list[int] = field(default_factory=list)  # API, PostgreSQL, Redis

    def pids(self, replicas: int) -> list[int]:
        return [r.proc.pid for r in self.replicas[:replicas]]


def ensure_peer_installed() -> None:
    """`npm ci` into bench/peers/socketio/node_modules (git-ignored) when it is missing."""
    if (PEER_DIR / "node_modules" / "socket.io").is_dir():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True)


class Stack:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.pg: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.api: ServiceProcess | None = None
        self.api_url = ""
        self.api_internal = ""
        self.procs: list[ServiceProcess] = []
        self.targets: dict[str, Target] = {}
        self.tokens: list[str] = []
        self.refresh: list[str] = []
        self.room_ids: list[int] = []
        self.members: set[tuple[int, int]] = set()
        self._migrate: subprocess.Popen[str] | None = None

    # -- infrastructure ------------------------------------------------------------------
    def start(self, replicas: int = 1) -> Stack:
        """Start everything, independent processes in parallel (imports take seconds each)."""
        ensure_peer_installed()
        self.pg = PostgresServer().start()
        self.redis = RedisServer().start()
        self.targets = {
            "ours": Target("ours"),
            "socketio": Target("socketio", backend_pids=self._redis_pids()),
            "floor": Target("floor"),
        }
        waits = [w for name in ("socketio", "floor") for w in self._spawn(name, replicas)]
        self._start_api()  # migrate runs while the peers boot
        waits += self._spawn("ours", replicas)
        assert self.api is not None and self.api.proc is not None
        assert self._migrate is not None
        out, _ = self._migrate.communicate(timeout=180)
        if self._migrate.returncode != 0:
            raise RuntimeError(f"chat_api migrate failed: {out[-2000:]}")
        wait_http_ok(self.api_internal + "/healthz", timeout=120, proc=self.api.proc)
        for url, proc in waits:
            wait_http_ok(url, timeout=120, proc=proc.proc)
        self.targets["ours"].backend_pids = self._backend_pids()
        return self

    def _backend_pids(self) -> list[int]:
        assert self.pg is not None and self.api is not None
        postmaster = int((self.pg.data_dir / "postmaster.pid").read_text().split()[0])
        return [self.api.pid, postmaster, *self._redis_pids()]

    def _redis_pids(self) -> list[int]:
        assert self.redis is not None and self.redis._proc is not None
        return [self.redis._proc.pid]

    def _start_api(self) -> None:
        assert self.pg is not None and self.redis is not None
        port, internal = free_port(), free_port()
        env = api_env(
            database_url=self.pg.create_database("bench"),
            redis_url=self.redis.url,
            jwt_secret=JWT_SECRET,
            port=port,
            internal_port=internal,
            LOG_LEVEL="WARNING",
        )
        argv = [sys.executable, "-m", "chat_api"]
        # The schema must exist before the first request, not before `serve` starts (its
        # lifespan touches no table), so both interpreters import in parallel.
        self._migrate = subprocess.Popen(
            [*argv, "migrate"],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.api = ServiceProcess(
            name="api", argv=[*argv, "serve"], env=env, log_dir=self.log_dir
        ).start()
        self.procs.append(self.api)
        self.api_url = f"http://127.0.0.1:{port}"
        self.api_internal = f"http://127.0.0.1:{internal}"

    def ensure_replicas(self, name: str, count: int) -> None:
        for url, proc in self._spawn(name, count - len(self.targets[name].replicas)):
            wait_http_ok(url, timeout=120, proc=proc.proc)

    def trim_replicas(self, name: str, count: int) -> None:
        """Stop replicas beyond `count` (their Redis subscriber would cost CPU unmeasured)."""
        target = self.targets[name]
        while len(target.replicas) > count:
            target.replicas.pop().proc.terminate(timeout=15)

    def restart_replicas(self, name: str) -> None:
        """Fresh replicas after an overload, so one scenario's backlog cannot leak into the
        next (e.g. a gateway whose HTTP pool stays exhausted)."""
        count = len(self.targets[name].replicas)
        self.trim_replicas(name, 0)
        self.ensure_replicas(name, count)

    def _spawn(self, name: str, count: int) -> list[tuple[str, ServiceProcess]]:
        return [self._spawn_one(name) for _ in range(max(count, 0))]

    def _spawn_one(self, name: str) -> tuple[str, ServiceProcess]:
        target = self.targets[name]
        n = len(target.replicas) + 1
        port = free_port()
        if name == "ours":
            ops = free_port()
            assert self.redis is not None
            env = gateway_env(
                port=port,
                ops_port=ops,
                replica=f"bench-gw{n}",
                api_url=self.api_url,
                api_internal_url=self.api_internal,
                redis_url=self.redis.url,
                LOG_LEVEL="WARNING",
                # Load, not abuse: the per-socket limiter and per-user socket cap are product
                # policy; raised so they are not what the bench measures (their cost remains).
                RATE_PER_SECOND="100000",
                RATE_BURST="100000",
                MAX_SOCKETS_PER_USER="100000",
            )
            argv = [sys.executable, "-m", "ws_gateway"]
            health = f"http://127.0.0.1:{ops}/readyz"  # ready = Redis subscribed + API up
        elif name == "socketio":
            assert self.redis is not None
            env = {"PORT": str(port), "HOST": "127.0.0.1", "REDIS_URL": self.redis.url}
            argv = ["node", str(PEER_DIR / "server.js")]
            health = f"http://127.0.0.1:{port}/healthz"
        else:
            env = {}
            argv = [sys.executable, "-m", "bench.floor", str(port)]
            health = f"http://127.0.0.1:{port}/healthz"
        proc = ServiceProcess(
            name=f"{name}-{n}",
            argv=argv,
            env=env,
            log_dir=self.log_dir,
            cwd=BENCH_DIR.parent,
        ).start()
        self.procs.append(proc)
        target.replicas.append(Replica(f"ws://127.0.0.1:{port}", proc))
        return health, proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate(timeout=15)
        for server in (self.redis, self.pg):
            if server is not None:
                server.cleanup()

    # -- accounts, rooms and memberships in the API (ours only) ---------------------------
    async def ensure_users(self, count: int) -> None:
        """Register + log in `count` users (argon2: slow, done once, two at a time per core)."""
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as http:
            gate = asyncio.Semaphore(4)

            async def one(i: int) -> tuple[str, str]:
                name = f"bench{i}_{uuid.uuid4().hex[:6]}"
                async with gate:
                    r = await http.post(
                        "/api/register", json={"username": name, "password": PASSWORD}
                    )
                    r.raise_for_status()
                    r = await http.post("/api/login", json={"username": name, "password": PASSWORD})
                    r.raise_for_status()
                body = r.json()
                return body["access_token"], body["refresh_token"]

            pairs = await asyncio.gather(*(one(i) for i in range(len(self.tokens), count)))
        self.tokens += [a for a, _ in pairs]
        self.refresh += [b for _, b in pairs]

    async def refresh_tokens(self) -> None:
        """Access tokens live 15 minutes at most: give each scenario fresh ones."""
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as http:
            gate = asyncio.Semaphore(8)

            async def one(i: int) -> None:
                async with gate:
                    r = await http.post("/api/refresh", json={"refresh_token": self.refresh[i]})
                    r.raise_for_status()
                body = r.json()
                self.tokens[i], self.refresh[i] = body["access_token"], body["refresh_token"]

            await asyncio.gather(*(one(i) for i in range(len(self.tokens))))

    async def ensure_rooms(self, count: int, pairs: set[tuple[int, int]]) -> list[int]:
        """`count` public rooms (owned by user 0) and the (user, room-slot) memberships."""
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as http:
            gate = asyncio.Semaphore(16)

            def auth(user: int) -> dict[str, str]:
                return {"Authorization": f"Bearer {self.tokens[user]}"}

            async def create(i: int) -> int:
                async with gate:
                    r = await http.post(
                        "/api/rooms", json={"name": f"bench-{i}", "kind": "public"}, headers=auth(0)
                    )
                r.raise_for_status()
                return int(r.json()["id"])

            async def join(user: int, slot: int) -> None:
                async with gate:
                    r = await http.post(
                        f"/api/rooms/{self.room_ids[slot]}/join", headers=auth(user)
                    )
                r.raise_for_status()
                self.members.add((user, slot))

            missing = range(len(self.room_ids), count)
            self.room_ids += await asyncio.gather(*(create(i) for i in missing))
            todo = {p for p in pairs if p not in self.members and p[0] != 0}
            await asyncio.gather(*(join(u, s) for u, s in sorted(todo)))
        return self.room_ids[:count]
