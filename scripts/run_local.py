"""`make run`: api, ws-gateway(s) and frontend as separate local processes.

    uv run python scripts/run_local.py [--port-base N] [--run-dir DIR]

Defaults are the embedded ones: SQLite at ./.run/chat.db and no Redis (the gateway
follows the API's event stream on its internal port). With DATABASE_URL / REDIS_URL set
they are used instead, and with REDIS_URL `GATEWAY_REPLICAS=2` starts a second gateway.
Ports are the contract's defaults (docs/contract.md), each overridable by its own
variable, or all moved at once with --port-base / RUN_LOCAL_PORT_BASE (api, api-internal,
frontend, frontend-ops, then two ports per gateway: client, ops).

The browser talks to three origins (frontend, API, gateway) on one host name, so the
refresh cookie (SameSite=Strict, Path=/api on the API origin) stays same-site: open the
printed URL, not the same ports under another host name (localhost vs 127.0.0.1 are
different sites to the browser).

TLS=1 puts nginx (the Ingress stand-in, deploy/nginx) in front on TLS_PORT (8443; after
the gateways' ports with --port-base) with a certificate from a local CA in .run/tls
(scripts/run_local_tls.py): one https://localhost origin for pages, /api and /ws, the
Secure refresh cookie, and the gateway allowing only that origin. No HSTS: it would bind
every port of localhost to https in the browser, including a later plain `make run`.

Single-threaded on purpose: one selector loop streams every child's output with a name
prefix, so children can be forked with a parent-death signal safely. Ctrl-C / SIGTERM
stops frontend, gateways, then the API (SIGTERM, then SIGKILL after a deadline), exit 0.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import selectors
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name: (contract default, offset from --port-base)
PORTS = {
    "API_PORT": (8000, 0),
    "API_INTERNAL_PORT": (8001, 1),
    "FRONTEND_PORT": (8080, 2),
    "FRONTEND_OPS_PORT": (9102, 3),
    "GATEWAY_PORT": (8765, 4),
    "GATEWAY_OPS_PORT": (9100, 5),
}
# Clients' entry point first (nginx under TLS=1), the API last.
STOP_ORDER = ("nginx", "frontend", "gateway", "api")
STOP_TIMEOUT = 25.0  # the gateway drain is bounded by DRAIN_SECONDS (set below)
HEALTH_TIMEOUT = 180.0  # a first run compiles bytecode; 2-core machines are slow to import
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the forked child: SIGTERM it if run_local itself dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    health_url: str
    health_tls: ssl.SSLContext | None = None  # for an https health_url: trusts the local CA
    # Probed only once every other child is healthy: nginx's health is the API's, through
    # it, and asking earlier only fills the log with refused upstream connections.
    probe_last: bool = False
    proc: subprocess.Popen[bytes] | None = None
    healthy: bool = False
    buffer: bytes = b""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own session: the terminal's Ctrl-C reaches only us, and we stop children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Config:
    run_dir: Path
    host: str
    ports: dict[str, int]
    gateway_ports: list[tuple[int, int]]
    env: dict[str, str]
    tls_port: int | None = None  # TLS=1: nginx's https port, the one URL to open

    @property
    def frontend_url(self) -> str:
        if self.tls_port is not None:
            return f"https://{self.host}:{self.tls_port}"
        return f"http://{self.host}:{self.ports['FRONTEND_PORT']}"


def _port(env: Mapping[str, str], name: str, base: int | None) -> int:
    default, offset = PORTS[name]
    return int(env[name]) if name in env else default if base is None else base + offset


def _jwt_secret(run_dir: Path, env: Mapping[str, str]) -> str:
    """JWT_SECRET from the environment, else one generated into .run/ once and reused."""
    if env.get("JWT_SECRET"):
        return env["JWT_SECRET"]
    path = run_dir / "jwt_secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def build_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    run_dir = Path(args.run_dir or environ.get("RUN_LOCAL_DIR") or ROOT / ".run").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    base_text = args.port_base or environ.get("RUN_LOCAL_PORT_BASE")
    base = int(base_text) if base_text else None
    ports = {name: _port(environ, name, base) for name in PORTS}
    replicas = int(environ.get("GATEWAY_REPLICAS", "1"))
    redis_url = environ.get("REDIS_URL", "")
    if replicas < 1 or (replicas > 1 and not redis_url):
        raise SystemExit("run_local: GATEWAY_REPLICAS > 1 needs REDIS_URL (replicas share Redis)")
    # Extra replicas sit right after the first one's pair of ports (8766/9101 by default).
    gateway_ports = [
        (ports["GATEWAY_PORT"] + i, ports["GATEWAY_OPS_PORT"] + i)
        if base is None
        else (ports["GATEWAY_PORT"] + 2 * i, ports["GATEWAY_OPS_PORT"] + 2 * i)
        for i in range(replicas)
    ]
    host = environ.get("RUN_LOCAL_HOST", "localhost")
    bind = environ.get("RUN_LOCAL_BIND", "127.0.0.1")  # a dev stack stays off the LAN
    tls_port = _tls_port(environ, base, replicas)
    cfg = Config(run_dir, host, ports, gateway_ports, {}, tls_port)
    frontend_origin = cfg.frontend_url
    env = {
        **environ,
        "ENVIRONMENT": environ.get("ENVIRONMENT", "development"),
        "DATABASE_URL": environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{run_dir / 'chat.db'}",
        "JWT_SECRET": _jwt_secret(run_dir, environ),
        # Secure only over TLS=1: a plain http://localhost page would never send it back.
        "COOKIE_SECURE": environ.get("COOKIE_SECURE", "true" if tls_port else "false"),
        "CORS_ORIGINS": environ.get("CORS_ORIGINS", frontend_origin),
        "ALLOWED_ORIGINS": environ.get("ALLOWED_ORIGINS", frontend_origin),
        "LOG_JSON": environ.get("LOG_JSON", "false"),  # humans read this terminal
        "DRAIN_SECONDS": environ.get("DRAIN_SECONDS", "5"),
        "API_HOST": bind,
        "API_INTERNAL_HOST": bind,
        "GATEWAY_HOST": bind,
        "GATEWAY_OPS_HOST": bind,
        "FRONTEND_HOST": bind,
        "API_URL": f"http://127.0.0.1:{ports['API_PORT']}",
        "API_INTERNAL_URL": f"http://127.0.0.1:{ports['API_INTERNAL_PORT']}",
        # Through nginx under TLS=1 (same origin); else each service's own port.
        "PUBLIC_API_BASE": "/api" if tls_port else f"http://{host}:{ports['API_PORT']}/api",
        "PUBLIC_WS_URL": "/ws" if tls_port else f"ws://{host}:{gateway_ports[0][0]}/ws",
        "PYTHONUNBUFFERED": "1",
    }
    if not sys.stdout.isatty():  # a log file or CI: no ANSI colours from console renderers
        env.setdefault("NO_COLOR", "1")
    env.update({name: str(port) for name, port in ports.items()})
    cfg.env = env
    return cfg


def _tls_port(env: Mapping[str, str], base: int | None, replicas: int) -> int | None:
    """TLS=1: TLS_PORT, else 8443, else (with --port-base) the port after the gateways'."""
    if env.get("TLS", "").lower() not in ("1", "true", "yes"):
        return None
    if "TLS_PORT" in env:
        return int(env["TLS_PORT"])
    return 8443 if base is None else base + PORTS["GATEWAY_PORT"][1] + 2 * replicas


def make_children(cfg: Config) -> list[Child]:
    py = sys.executable
    children = [
        Child(
            "api",
            [py, "-m", "chat_api", "serve"],
            cfg.env,
            f"http://127.0.0.1:{cfg.ports['API_INTERNAL_PORT']}/healthz",
        )
    ]
    many = len(cfg.gateway_ports) > 1
    for i, (port, ops) in enumerate(cfg.gateway_ports, start=1):
        env = {**cfg.env, "GATEWAY_PORT": str(port), "GATEWAY_OPS_PORT": str(ops)}
        if many:  # distinct presence members and canary channels per replica
            env["REPLICA_ID"] = f"local-{i}"
        children.append(
            Child(
                f"gateway-{i}" if many else "gateway",
                [py, "-m", "ws_gateway"],
                env,
                f"http://127.0.0.1:{ops}/healthz",
            )
        )
    children.append(
        Child(
            "frontend",
            [py, "-m", "chat_frontend"],
            cfg.env,
            f"http://127.0.0.1:{cfg.ports['FRONTEND_OPS_PORT']}/healthz",
        )
    )
    return children


def tls_child(cfg: Config, out: Callable[[str], None]) -> Child:
    """TLS=1: certificates, then nginx terminating TLS in front of the children (its health
    is checked through its own certificate); prints how to trust the local CA."""
    # Imported for TLS=1 only: it runs chat_testkit's nginx, and bootstrap syncs chat-testkit
    # for TLS=1 only (a plain `make run` installs no test packages). Beside this file: run
    # as a script, its folder is on sys.path.
    try:
        import run_local_tls
    except ModuleNotFoundError as exc:
        needs = f"run_local: TLS=1 needs {exc.name}"
        raise SystemExit(f"{needs}: start it with `TLS=1 make run`") from None
    nginx, openssl = run_local_tls.tools()
    tls, new_ca = run_local_tls.ensure_certificates(cfg.run_dir, openssl)
    for line in run_local_tls.trust_hint(tls, new_ca):
        out(line)
    local = "127.0.0.1"
    upstreams = {
        "frontend": [f"{local}:{cfg.ports['FRONTEND_PORT']}"],
        "api": [f"{local}:{cfg.ports['API_PORT']}"],
        "gateway": [f"{local}:{port}" for port, _ in cfg.gateway_ports],
    }
    assert cfg.tls_port is not None
    argv = run_local_tls.nginx_argv(cfg.run_dir, nginx, tls, cfg.tls_port, upstreams)
    health = f"https://{local}:{cfg.tls_port}/api/healthz"
    return Child("nginx", argv, cfg.env, health, tls.client_context(), probe_last=True)


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0, context=context) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Supervisor:
    """Streams child output with prefixes and stops everything on a signal or a crash."""

    def __init__(self, children: list[Child], out: Callable[[str], None]) -> None:
        self.children = children
        self.out = out
        self.sel = selectors.DefaultSelector()
        self.width = max(len(c.name) for c in children)
        self.stop_requested = 0

    def request_stop(self, signum: int, _frame: object) -> None:
        self.stop_requested += 1
        if self.stop_requested > 1:  # a second Ctrl-C: no more patience
            for child in self.children:
                if child.alive():
                    assert child.proc is not None
                    child.proc.kill()

    def start_all(self) -> None:
        for child in self.children:
            child.start()
            assert child.proc is not None and child.proc.stdout is not None
            os.set_blocking(child.proc.stdout.fileno(), False)
            self.sel.register(child.proc.stdout, selectors.EVENT_READ, child)

    def _emit(self, child: Child, line: bytes) -> None:
        text = line.decode(errors="replace").rstrip()
        self.out(f"{child.name.ljust(self.width)} | {text}")

    def pump(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout):
            child: Child = key.data
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:  # EOF: the child closed its output (exited)
                self.sel.unregister(key.fileobj)
                if child.buffer:
                    self._emit(child, child.buffer)
                    child.buffer = b""
                continue
            *lines, child.buffer = (child.buffer + chunk).split(b"\n")
            for line in lines:
                self._emit(child, line)

    def crashed(self) -> Child | None:
        return next((c for c in self.children if c.proc and c.proc.poll() is not None), None)

    def wait_healthy(self) -> Child | None:
        """Poll every /healthz while streaming logs; returns a child that failed, if any."""
        deadline = time.monotonic() + HEALTH_TIMEOUT
        next_probe = 0.0
        while not all(c.healthy for c in self.children):
            if self.stop_requested:
                return None
            dead = self.crashed()
            if dead is not None:
                return dead
            if time.monotonic() > deadline:
                return next(c for c in self.children if not c.healthy)
            self.pump(0.1)
            if time.monotonic() >= next_probe:
                first = all(c.healthy for c in self.children if not c.probe_last)
                for child in self.children:
                    if child.probe_last and not first:
                        continue
                    child.healthy = child.healthy or http_ok(child.health_url, child.health_tls)
                next_probe = time.monotonic() + 0.2
        return None

    def run_until_stop(self) -> Child | None:
        while not self.stop_requested:
            dead = self.crashed()
            if dead is not None:
                return dead
            self.pump(0.2)
        return None

    def stop_all(self) -> None:
        for group in STOP_ORDER:
            members = [c for c in self.children if c.name.startswith(group) and c.alive()]
            for child in members:
                assert child.proc is not None
                child.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while any(c.alive() for c in members) and time.monotonic() < deadline:
                self.pump(0.1)
            for child in members:
                if child.alive():
                    assert child.proc is not None
                    self.out(f"run_local: {child.name} did not stop in time, killing it")
                    child.proc.kill()
                if child.proc is not None:
                    child.proc.wait()
        deadline = time.monotonic() + 5  # what is left in the pipes (bounded: a stray
        while self.sel.get_map() and time.monotonic() < deadline:  # grandchild may hold one)
            self.pump(0.1)


def migrate(cfg: Config) -> int:
    result = subprocess.run(
        [sys.executable, "-m", "chat_api", "migrate"],
        env=cfg.env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    for line in (result.stdout + result.stderr).splitlines():
        print(f"migrate | {line}", flush=True)
    return result.returncode


def announce(cfg: Config, out: Callable[[str], None]) -> None:
    """The ready lines: the one URL to open, and where the page's API and socket are."""
    api, ws = cfg.env["PUBLIC_API_BASE"], cfg.env["PUBLIC_WS_URL"]
    if cfg.tls_port is not None:  # same origin through nginx
        api, ws = f"{cfg.frontend_url}/api", f"wss://{cfg.host}:{cfg.tls_port}/ws"
    out("")
    out(f"run_local: ready -> open {cfg.frontend_url}  (Ctrl-C stops everything)")
    out(f"run_local: api {api}, websocket {ws}")
    out("")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port-base", help="move every port to BASE+offset (tests)")
    parser.add_argument("--run-dir", help="state directory (default ./.run)")
    args = parser.parse_args(argv)
    cfg = build_config(args, os.environ)

    def out(line: str) -> None:
        print(line, flush=True)

    db = cfg.env["DATABASE_URL"].split(":", 1)[0]
    broker = "redis" if cfg.env.get("REDIS_URL") else "no redis (gateway follows the api)"
    out(f"run_local: database {db}, {broker}, {len(cfg.gateway_ports)} gateway(s)")
    children = make_children(cfg)
    if cfg.tls_port is not None:
        children.append(tls_child(cfg, out))
    sup = Supervisor(children, out)
    signal.signal(signal.SIGINT, sup.request_stop)
    signal.signal(signal.SIGTERM, sup.request_stop)
    code = migrate(cfg)  # same process group: a Ctrl-C here reaches the migration too
    if sup.stop_requested:
        out("run_local: stopped")
        return 0
    if code != 0:
        out(f"run_local: migration failed (exit {code})")
        return 1
    sup.start_all()
    failed = sup.wait_healthy()
    if failed is None and not sup.stop_requested:
        announce(cfg, out)
        failed = sup.run_until_stop()
    if failed is not None:
        exit_code = failed.proc.poll() if failed.proc else None
        state = "not healthy" if exit_code is None else f"exited with {exit_code}"
        out(f"run_local: {failed.name} {state}; stopping the rest")
    sup.stop_all()
    out("run_local: stopped")
    return 1 if failed is not None else 0


if __name__ == "__main__":
    sys.exit(main())
