"""A private PostgreSQL cluster per test session: initdb + pg_ctl on a free port.

PostgreSQL refuses to run as root, so under root the cluster belongs to the
`postgres` system user (created by Debian's package) and commands run via runuser.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chat_testkit.lifecycle import Lifecycle
from chat_testkit.ports import free_port, wait_port


def _bin_dir() -> Path:
    explicit = os.environ.get("CHAT_TEST_PG_BIN")
    if explicit:
        return Path(explicit)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for cand in candidates:
        if (Path(cand) / "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: install them (Debian: apt-get install -y "
        "postgresql) or set CHAT_TEST_PG_BIN; `make test` does this when run as root"
    )


@dataclass
class PostgresServer(Lifecycle):
    database: str = "chat"
    port: int = field(default_factory=free_port)
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chat-pg-")))
    _bin: Path = field(default_factory=_bin_dir)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def dsn(self, database: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database or self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base_dir, pw.pw_uid, pw.pw_gid)
        if not self.data_dir.exists():
            self._run(
                str(self._bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            )
        self._ctl_start()
        self._run(
            str(self._bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            self.database,
        )
        return self

    def _ctl_start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            opts,
            "-l",
            str(self.base_dir / "postgres.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        wait_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop fast and start again on the same port and data (fault tests)."""
        self.stop("fast")
        self._ctl_start()

    def create_database(self, name: str) -> str:
        self._run(
            str(self._bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def cleanup(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
