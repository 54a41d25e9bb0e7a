"""Loopback ports for test servers, race-free across concurrent test processes.

Binding to port 0 and closing hands out a port from the ephemeral range, where any
outgoing connection may take it as its local port before our server binds, and where a
second test process asking the OS a moment later may be given the same port. So ports come
from below the ephemeral range, are checked free with a bind, and each one handed out is
reserved for the life of this process by an exclusive lock file that every process using
this module respects (released by the kernel when the process exits, even on kill -9).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

_LOW = 10000
_LOCK_DIR = Path(tempfile.gettempdir()) / "chat-testkit-ports"
_held: dict[int, int] = {}  # port -> fd of its lock file, open until the process exits
_guard = threading.Lock()
_rng = random.SystemRandom()


def _ephemeral_low() -> int:
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return low


def _reserve(port: int) -> bool:
    """Take port's lock file (no other process holds it) and check nothing listens on it."""
    if port in _held:
        return False
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(_LOCK_DIR / f"{port}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            os.close(fd)  # in use by something that does not take our locks
            return False
    _held[port] = fd
    return True


def _release(port: int) -> None:
    fd = _held.pop(port, None)
    if fd is not None:
        os.close(fd)


def free_port_base(span: int = 8) -> int:
    """A base with `span` consecutive loopback ports, free and reserved for this process."""
    high = max(_ephemeral_low() - span, _LOW + 1)
    with _guard:
        for _ in range(1000):
            base = _rng.randrange(_LOW, high)
            taken: list[int] = []
            for port in range(base, base + span):
                if not _reserve(port):
                    break
                taken.append(port)
            else:
                return base
            for port in taken:
                _release(port)
    raise RuntimeError(f"no {span} free consecutive ports below {high + span}")


def free_port() -> int:
    """A loopback port nothing listens on, below the ephemeral range, that no other test
    process (nor this one) is handed while this process lives."""
    return free_port_base(1)


def wait_port(
    port: int,
    *,
    timeout: float = 20.0,
    host: str = "127.0.0.1",
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Until `host:port` accepts a connection; with `proc`, fail as soon as it exits (the
    server that was to listen there died: waiting out the timeout would only hide why)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            code = proc.returncode
            raise RuntimeError(f"process exited with {code} before {host}:{port} listened")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)
