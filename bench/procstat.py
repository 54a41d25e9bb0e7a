"""Server-side cost from /proc: CPU seconds (utime+stime) and resident memory of processes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (threads included), in seconds; 0 if it is gone."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return 0.0
    # After the name: state(0) ppid(1) ... utime(11) stime(12).
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_bytes(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return 0
    return pages * _PAGE


def descendants(root: int) -> list[int]:
    """`root` and every process below it (PostgreSQL backends are children of the postmaster)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, ()))
    return out


class CpuMeter:
    """CPU used by a fixed set of process trees between start() and stop()."""

    def __init__(self, roots: Iterable[int]) -> None:
        self.roots = list(roots)
        self._before: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for root in self.roots for pid in descendants(root)}

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> float:
        after = self._sample()
        # Processes born during the window count from zero; ones that died are lost (rare).
        return sum(max(t - self._before.get(pid, 0.0), 0.0) for pid, t in after.items())
