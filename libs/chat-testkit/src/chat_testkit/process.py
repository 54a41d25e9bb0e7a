"""Run a service as a real child process, wait until it answers, keep its log."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def pid_alive(pid: int) -> bool:
    """The process runs: it exists and is not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_http_ok(
    url: str,
    *,
    timeout: float = 30.0,
    proc: subprocess.Popen[bytes] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            resp = httpx.get(url, timeout=1.0, verify=verify)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout}s ({last})")


@dataclass
class ServiceProcess:
    """`argv` runs with the current interpreter's environment plus `env`."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_dir: Path
    health_url: str | None = None
    cwd: Path | None = None
    # For an https health_url: the context that trusts the server's CA.
    health_verify: ssl.SSLContext | bool = True
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self, *, timeout: float = 30.0) -> ServiceProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            list(self.argv), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd
        )
        log.close()
        if self.health_url:
            try:
                wait_http_ok(
                    self.health_url, timeout=timeout, proc=self.proc, verify=self.health_verify
                )
            except Exception:
                self.kill()
                sys.stderr.write(self.read_log()[-4000:])
                raise
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
