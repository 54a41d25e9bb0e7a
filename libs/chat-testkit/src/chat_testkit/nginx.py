"""nginx, the chart Ingress's stand-in, as a child process: the one launcher of the fault
and e2e suites, the chart's parity test and `TLS=1 make run`.

The config is deploy/nginx/chat.conf.template rendered for the given upstreams (plain http,
or TLS with a certificate), written into a prefix of the launcher's own (nginx.conf, logs/,
tmp/), so two instances, or the machine's own nginx, never share a pid file, log or temp
path. nginx stays in the foreground (`daemon off`) as our child, so its exit is seen and
stop() leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chat_testkit.lifecycle import Lifecycle
from chat_testkit.nginx_config import render
from chat_testkit.ports import wait_port

LOOPBACK = "127.0.0.1"  # the template's LISTEN_ADDRESS


def nginx_binary() -> str | None:
    """CHAT_TEST_NGINX, else nginx on PATH, else Debian's /usr/sbin/nginx (which is not on
    a non-root PATH); None when there is none."""
    found = os.environ.get("CHAT_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def _required_nginx() -> str:
    found = nginx_binary()
    if found is None:
        raise RuntimeError("nginx missing: apt-get install -y nginx (scripts/bootstrap.sh)")
    return found


@dataclass
class Nginx(Lifecycle):
    """`prefix` is nginx's -p directory; upstreams are host:port. With `cert` and `key` (PEM
    paths, both or neither) the listener terminates TLS, as the Ingress's tls block does."""

    prefix: Path
    port: int
    frontend: str
    api: str
    gateways: Sequence[str]
    cert: Path | None = None
    key: Path | None = None
    ws_timeout: int = 3600  # /ws read/send timeout, seconds (the Ingress annotations')
    exe: str = field(default_factory=_required_nginx)
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.cert else 'http'}://{LOOPBACK}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.cert else 'ws'}://{LOOPBACK}:{self.port}/ws"

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def log_dir(self) -> Path:
        return self.prefix / "logs"

    @property
    def error_log(self) -> Path:
        """Where start() sends nginx's stderr, which carries its error log."""
        return self.log_dir / "error.log"

    @property
    def access_log(self) -> Path:
        return self.log_dir / "access.log"

    def render(self) -> str:
        tls = {"TLS_CERTIFICATE": self.cert, "TLS_CERTIFICATE_KEY": self.key}
        return render(
            LISTEN_PORT=self.port,
            FRONTEND_UPSTREAM=self.frontend,
            API_UPSTREAM=self.api,
            GATEWAY_UPSTREAMS=list(self.gateways),
            WS_TIMEOUT_SECONDS=self.ws_timeout,
            # To stderr, as with `-e stderr` below: whoever runs nginx decides where its errors
            # go (a file of the prefix for the suites, the terminal for make run).
            ERROR_LOG="stderr",
            **{name: path for name, path in tls.items() if path},  # render: both or neither
        )

    def prepare(self) -> list[str]:
        """Write the prefix (nginx.conf, logs/, tmp/); the argv that runs it in the foreground.
        For a caller that supervises the process itself (make run); start() runs it here."""
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.render())
        # -e stderr: errors from before the config is read, too (else /var/log/nginx).
        conf = ["-e", "stderr", "-p", str(self.prefix), "-c", str(self.conf)]
        return [self.exe, *conf, "-g", "daemon off;"]

    def start(self, *, timeout: float = 20.0) -> Nginx:
        """Run nginx; return once the port accepts connections and a worker runs (the master
        binds before it installs its signal handlers, so an early reload or stop could kill
        it half-started)."""
        argv = self.prepare()
        # The child gets its own descriptor of the log; ours is closed at once (it leaked).
        with self.error_log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + timeout
        try:
            try:
                wait_port(self.port, timeout=timeout, proc=self.proc)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(self._failure(str(exc))) from None
            self._until(lambda: bool(self.worker_pids()), "a worker ran", deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def worker_pids(self) -> set[int]:
        """The master's children: its workers (this config starts no cache processes)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return {int(pid) for pid in children.read_text().split()}
        except FileNotFoundError:  # the master has exited
            return set()

    def reload(self, *, timeout: float = 20.0) -> None:
        """Render the config again (fields may have changed) and SIGHUP the master, which is
        what `nginx -s reload` does; return once a new worker runs. Old workers keep their
        open connections, WebSockets too, and exit when the last one closes."""
        assert self.proc is not None
        old = self.worker_pids()
        self.conf.write_text(self.render())
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        self._until(lambda: bool(self.worker_pids() - old), "a new worker ran", deadline)

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM, nginx's fast shutdown: the master stops its workers, then exits. SIGKILL
        after `timeout`, workers too, since those of a killed master live on."""
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = self.worker_pids()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            workers |= self.worker_pids()
            self.proc.kill()
            self.proc.wait()
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()

    def logs(self) -> str:
        """Every log in the prefix (error and access), for a failure message or a grep."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def _until(self, check: Callable[[], bool], what: str, deadline: float) -> None:
        assert self.proc is not None
        while not check():
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(self._failure(f"exited with {code} before {what}"))
            if time.monotonic() > deadline:
                raise RuntimeError(self._failure(f"timed out before {what}"))
            time.sleep(0.02)

    def _failure(self, what: str) -> str:
        """`what` and the end of nginx's error log, which says why."""
        tail = self.error_log.read_text(errors="replace")[-2000:] if self.error_log.exists() else ""
        return f"nginx in {self.prefix}: {what}\n{tail}"
