"""`python -m bench profile [--only SCENARIO]`: one scenario against our gateway with py-spy
sampling the gateway replica and the API; prints the top frames (self and inclusive).

py-spy is not a project dependency: it is taken from PATH or run through `uvx py-spy`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path


def py_spy_argv() -> list[str] | None:
    if shutil.which("py-spy"):
        return ["py-spy"]
    if shutil.which("uvx"):
        return ["uvx", "py-spy"]
    return None


def start_sampler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    base = py_spy_argv()
    if base is None:
        return None
    argv = [*base, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "250"]
    argv += ["-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(collapsed: Path, top: int = 15) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
            for f in stack.split(";")
        ]
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return f"{collapsed.name}: no samples"
    lines = [f"{collapsed.name}: {total} samples", "  self:"]
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("  inclusive:")
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top + 10)]
    return "\n".join(lines)
