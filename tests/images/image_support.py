"""Build the service images with podman from a locally made Debian base (no registry here).

Two bases, both `debootstrap --variant=minbase`, each imported once and reused while its
recipe label matches; the rootfs stays in a cache dir so even a re-import is quick:
- the service base: python3 + venv + pip, what the Dockerfiles build on;
- the fresh-machine base: what a clean Debian 12 has (its system python3) plus git, make,
  curl and ca-certificates, for the "clone, then make run" test.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CHAT_IMAGES_CACHE", "/var/tmp/chat-images"))
SUITE = "bookworm"
MIRROR = os.environ.get("CHAT_IMAGES_MIRROR", "http://deb.debian.org/debian")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_IMAGE = "/etc/ssl/certs/ca-certificates.crt"
# Where update-ca-certificates looks for local CAs: an apt install that regenerates the
# bundle inside a container keeps the host's (intercepting) CAs.
LOCAL_CA_IN_IMAGE = "usr/local/share/ca-certificates/chat-host-bundle.crt"
# crun fails on this kernel's hybrid cgroups; runc works (shared/ENVIRONMENT.md).
PODMAN = ("podman", "--runtime", "runc")
# podman's default rlimits (nofile 1048576, a high nproc) exceed what runc may set in these
# sandboxes ("error setting rlimit type 7/6"), for build and run alike: ask for less.
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
SERVICES = {"api": "chat_api", "ws-gateway": "ws_gateway", "frontend": "chat_frontend"}
TOOLS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    # TLS to PyPI is intercepted on these machines: pip and uv must trust the host's CAs.
    "SSL_CERT_FILE": CA_IN_IMAGE,
    "PIP_CERT": CA_IN_IMAGE,
    "UV_NATIVE_TLS": "1",
}


@dataclass(frozen=True)
class BaseRecipe:
    """One debootstrap-made base image: its name, packages and rootfs cache folder."""

    image: str
    include: str  # debootstrap --include
    rootfs_name: str
    python_link: bool  # the Dockerfiles' entrypoints say `python`; a clean Debian has none


SERVICE_BASE = BaseRecipe(
    f"localhost/chat-base:{SUITE}", "python3,python3-venv,python3-pip", f"rootfs-{SUITE}", True
)
FRESH_BASE = BaseRecipe(
    f"localhost/chat-fresh:{SUITE}",
    "python3,git,make,curl,ca-certificates",
    f"rootfs-{SUITE}-fresh",
    False,
)
BASE_IMAGE = SERVICE_BASE.image


@dataclass
class Timings:
    """Phase costs, printed in the terminal summary so CI logs show what images cost."""

    phases: list[tuple[str, float]] = field(default_factory=list)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - start
            self.phases.append((name, elapsed))
            print(f"\n[images] {name}: {elapsed:.1f}s", flush=True)


TIMINGS = Timings()


def run(
    args: list[str] | tuple[str, ...], *, timeout: float, check: bool = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Every external command is bounded; failures carry their output."""
    proc: subprocess.CompletedProcess[str] = subprocess.run(
        list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[call-overload]
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
        )
    return proc


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run((*PODMAN, *args), timeout=timeout, check=check)


def ensure_tools() -> None:
    """Install podman/runc/debootstrap as root on Debian; otherwise say what is missing."""
    missing = [pkg for exe, pkg in TOOLS.items() if shutil.which(exe) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"image tests need {', '.join(missing)}: install them "
            f"(Debian/Ubuntu: sudo apt-get install -y {' '.join(missing)}), rootful podman "
            "is what these tests drive (`make bootstrap` does this when run as root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], timeout=300, env=env)
    run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        timeout=900,
        env=env,
    )
    still = [exe for exe in TOOLS if shutil.which(exe) is None]
    if still:
        raise RuntimeError(f"apt-get install finished but {still} still not on PATH")


def _recipe(base: BaseRecipe) -> str:
    """Changes to what goes into the base (or to the host CAs) force a rebuild."""
    digest = hashlib.sha256()
    for part in (SUITE, MIRROR, repr(base), LOCAL_CA_IN_IMAGE, repr(sorted(BASE_ENV.items()))):
        digest.update(part.encode())
    if HOST_CA.exists():
        digest.update(HOST_CA.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """Two sessions on one machine must not debootstrap into the same directory."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _unmount_below(path: Path) -> None:
    """An interrupted debootstrap can leave proc/sys mounted in its target: never rm those."""
    prefix = str(path.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mnt in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        run(["umount", "-l", mnt], timeout=30, check=False)


def _rootfs(base: BaseRecipe) -> Path:
    rootfs = CACHE / base.rootfs_name
    if (rootfs / ".complete").exists():
        return rootfs
    partial = CACHE / f"{base.rootfs_name}.partial"
    if partial.exists():
        _unmount_below(partial)
        shutil.rmtree(partial)
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={base.include}",
            SUITE,
            str(partial),
            MIRROR,
        ],
        timeout=1200,
    )
    _unmount_below(partial)
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (partial / leftover).glob("*"):
            if item.is_file():
                item.unlink()
    (partial / ".complete").touch()
    if rootfs.exists():
        shutil.rmtree(rootfs)
    partial.rename(rootfs)
    return rootfs


def _import_base(base: BaseRecipe, rootfs: Path, recipe: str) -> None:
    if HOST_CA.exists():
        shutil.copyfile(HOST_CA, rootfs / CA_IN_IMAGE.lstrip("/"))
        (rootfs / LOCAL_CA_IN_IMAGE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HOST_CA, rootfs / LOCAL_CA_IN_IMAGE)
    # The official slim images have `python` in /usr/local/bin; a Debian base only python3.
    link = rootfs / "usr/local/bin/python"
    if base.python_link and not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/usr/bin/python3")
    tarball = CACHE / f"base-{recipe}.tar"
    try:
        run(
            ["tar", "-C", str(rootfs), "--exclude=./.complete", "-cf", str(tarball), "."],
            timeout=300,
        )
        changes: list[str] = []
        for key, value in BASE_ENV.items():
            changes += ["--change", f"ENV {key}={value}"]
        changes += ["--change", f"LABEL chat.base.recipe={recipe}"]
        changes += ["--change", 'CMD ["python3"]']
        podman("import", *changes, str(tarball), base.image, timeout=300)
    finally:
        tarball.unlink(missing_ok=True)


def ensure_base(base: BaseRecipe = SERVICE_BASE) -> str:
    """The local base image, built at most once per recipe; returns its name."""
    recipe = _recipe(base)
    with _cache_lock():
        if podman("image", "exists", base.image, check=False).returncode == 0:
            label = podman(
                "image",
                "inspect",
                "--format",
                '{{index .Labels "chat.base.recipe"}}',
                base.image,
            ).stdout.strip()
            if label == recipe:
                with TIMINGS.phase(f"base {base.image} (reused)"):
                    return base.image
        cached = (CACHE / base.rootfs_name / ".complete").exists()
        with TIMINGS.phase(f"base {base.image} (rootfs {'cached' if cached else 'debootstrap'})"):
            _import_base(base, _rootfs(base), recipe)
    return base.image


def build_image(service: str, base: str, tag: str) -> str:
    """Build one service image from the repo root, as `make images` does."""
    name = f"localhost/chat-{service}:{tag}"
    with TIMINGS.phase(f"build {service}"):
        podman(
            "build",
            *ULIMITS,
            # docker format keeps a HEALTHCHECK if one sneaks in (OCI drops it silently),
            # so the "no HEALTHCHECK" assertion means something.
            "--format",
            "docker",
            "--build-arg",
            f"BASE_IMAGE={base}",
            "-f",
            str(ROOT / service / "Dockerfile"),
            "-t",
            name,
            str(ROOT),
            timeout=1200,
        )
    return name


def unique_tag() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"
