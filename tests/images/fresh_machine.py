"""A clean Debian 12 machine as a podman container: clone the repo, run make targets in it.

The container is the fresh-machine base (system python3, git, make, curl, ca-certificates,
nothing else), root, on the host network so its `make run` ports are reachable from here.
Package caches are mounted copy-on-write (`:O`): the container starts from what this host
already downloaded, and nothing it writes reaches the host. CHAT_FRESH_CACHES=0 runs cold.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from image_support import ROOT, ULIMITS, podman, run, unique_tag

REPO_IN_MACHINE = "/root/chat"
OUT_IN_MACHINE = "/out"
BUNDLE_IN_MACHINE = "/src/repo.bundle"
APT_CACHES = ("/var/cache/apt/archives", "/var/lib/apt/lists")
# What `make run` starts, by module or script name in its command line.
SERVICE_PROCESSES = re.compile(r"chat_api|ws_gateway|chat_frontend|run_local\.py")


def repo_bundle(dest: Path) -> Path:
    """The committed HEAD as a git bundle: the machine clones what a user would (no
    uncommitted or ignored file of this checkout leaks in)."""
    run(["git", "-C", str(ROOT), "bundle", "create", str(dest), "HEAD"], timeout=120)
    return dest


def _host_uv_cache() -> Path | None:
    uv = shutil.which("uv")
    if uv is None:
        return None
    proc = run([uv, "cache", "dir"], timeout=30, check=False)
    path = Path(proc.stdout.strip())
    return path if proc.returncode == 0 and path.is_dir() else None


def cache_mounts() -> list[str]:
    """Copy-on-write mounts of this host's uv cache and, on a bookworm host, its apt caches."""
    if os.environ.get("CHAT_FRESH_CACHES", "1") == "0":
        return []
    mounts = []
    uv_cache = _host_uv_cache()
    if uv_cache is not None:
        mounts += ["--volume", f"{uv_cache}:/root/.cache/uv:O"]
    os_release = Path("/etc/os-release")
    if os_release.exists() and "VERSION_CODENAME=bookworm" in os_release.read_text():
        for path in APT_CACHES:
            if Path(path).is_dir():
                mounts += ["--volume", f"{path}:{path}:O"]
    return mounts


@dataclass
class Job:
    """A command running detached in the machine, in its own process group, as a terminal
    would run it: its output, exit code and process group id land in the shared folder."""

    machine: FreshMachine
    name: str

    def _file(self, suffix: str) -> Path:
        return self.machine.out / f"{self.name}.{suffix}"

    def output(self) -> str:
        path = self._file("log")
        return path.read_text(errors="replace") if path.exists() else ""

    def exit_code(self) -> int | None:
        text = self._file("rc").read_text().strip() if self._file("rc").exists() else ""
        return int(text) if text else None

    def wait_for(self, pattern: str, *, timeout: float) -> re.Match[str]:
        """The first match of `pattern` in the output; fails at once if the job ended."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.exit_code() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} not printed by {self.name} (exit {self.exit_code()});"
                    f" output:\n{self.output()[-6000:]}"
                )
            time.sleep(0.2)

    def interrupt(self, *, timeout: float) -> int:
        """Ctrl-C: SIGINT to the job's whole process group, then its exit code."""
        pgid = self._file("pgid").read_text().strip()
        self.machine.sh(f"kill -INT -- -{pgid}", check=False)
        deadline = time.monotonic() + timeout
        while (code := self.exit_code()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running {timeout}s after SIGINT")
            time.sleep(0.2)
        return code


@dataclass
class FreshMachine:
    name: str
    out: Path

    @classmethod
    def start(cls, image: str, out: Path, bundle: Path) -> FreshMachine:
        machine = cls(f"chat-fresh-{unique_tag()}", out)
        try:
            podman(
                "run",
                "--detach",
                "--name",
                machine.name,
                # No container network can be set up here; apt, PyPI and the ports need it.
                "--network",
                "host",
                *ULIMITS,
                "--volume",
                f"{out}:{OUT_IN_MACHINE}",
                "--volume",
                f"{bundle}:{BUNDLE_IN_MACHINE}:ro",
                *cache_mounts(),
                image,
                "sleep",
                "infinity",
                timeout=120,
            )
        except BaseException:
            machine.remove()
            raise
        return machine

    def sh(self, script: str, *, timeout: float = 60, check: bool = True) -> str:
        """`bash -c script` as root in the machine; stdout and stderr together."""
        proc = podman(
            "exec", self.name, "bash", "-c", f"{script} 2>&1", timeout=timeout, check=check
        )
        return proc.stdout

    def spawn(self, name: str, command: str, env: dict[str, str]) -> Job:
        """Start `command` in the clone, detached, in a session of its own. The wrapper
        traps SIGINT (rather than ignoring it, which children would inherit), so it can
        still record the exit code after a Ctrl-C."""
        out = f"{OUT_IN_MACHINE}/{name}"
        script = (
            f"echo $$ > {out}.pgid; trap true INT; cd {REPO_IN_MACHINE} && "
            f"{command} > {out}.log 2>&1; echo $? > {out}.rc"
        )
        flags = [f"--env={k}={v}" for k, v in env.items()]
        podman("exec", "--detach", *flags, self.name, "setsid", "bash", "-c", script)
        return Job(self, name)

    def installed_packages(self) -> set[str]:
        out = self.sh("dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n'")
        return {line.split()[-1] for line in out.splitlines() if line.startswith("ii")}

    def service_processes(self) -> list[str]:
        """Command lines of any make-run service process still alive in the machine."""
        script = 'for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done'
        lines = self.sh(script, check=False).splitlines()
        return [line for line in lines if SERVICE_PROCESSES.search(line)]

    def remove(self) -> None:
        # PID 1 is `sleep`, which ignores SIGTERM: no grace period to wait out.
        podman("rm", "--force", "--time", "0", self.name, check=False, timeout=60)
