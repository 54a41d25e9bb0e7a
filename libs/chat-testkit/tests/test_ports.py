"""free_port never hands one port to two live test processes, nor twice to one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chat_testkit.ports import _ephemeral_low, free_port, free_port_base

CHILD = """
import sys, time
from chat_testkit.ports import free_port
print(" ".join(str(free_port()) for _ in range({n})), flush=True)
sys.stdin.read()  # hold the reservations until the parent is done
"""


def test_ports_are_below_ephemeral_and_unique_in_process() -> None:
    """Ports come from below the ephemeral range and are never handed out twice."""
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10000 <= p < _ephemeral_low() for p in ports)


def test_concurrent_processes_never_share_a_port(tmp_path: Path) -> None:
    """Four processes each taking 300 ports at once get 1200 distinct ports."""
    n = 300
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD.format(n=n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        seen: list[int] = [free_port() for _ in range(n)]
        for child in children:
            assert child.stdout is not None
            seen += [int(p) for p in child.stdout.readline().split()]
        assert len(seen) == 5 * n
        assert len(set(seen)) == len(seen)
    finally:
        for child in children:
            child.communicate("")


def test_base_span_is_reserved() -> None:
    """A base's whole span is reserved: no later free_port lands inside it."""
    base = free_port_base(8)
    others = {free_port() for _ in range(300)}
    assert not others & set(range(base, base + 8))
