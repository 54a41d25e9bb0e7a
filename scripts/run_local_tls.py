"""`TLS=1 make run`: a local CA, a certificate for localhost, and nginx terminating TLS.

The CA is made once per checkout in .run/tls/ and reused, so a developer trusts it once; it
carries name constraints, so even a leaked ca.key can only vouch for localhost and loopback
addresses. The server certificate is issued anew at every start (cheap with P-256). Only
the openssl CLI is used: `make run` syncs no dev packages, and Debian ships openssl.
nginx is the e2e suite's (chat_testkit.nginx, the Ingress stand-in: bootstrap syncs
chat-testkit for TLS=1 only), so the page, /api and /ws share one https:// origin as in
production; run_local supervises the process itself, like its other children.
"""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chat_testkit.nginx import Nginx, nginx_binary

CA_DAYS = 3650
LEAF_DAYS = 30  # issued at every start; short-lived on purpose
CA_NAME = "chat make-run local CA"
CA_EXTENSIONS = """\
[v3]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
nameConstraints = critical, permitted;DNS:localhost, permitted;IP:127.0.0.0/255.0.0.0, \
permitted;IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF
"""
LEAF_EXTENSIONS = """\
[v3]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
# `req` reads a config file; an empty one keeps the distribution's defaults (which add
# their own CA extensions) out of our certificates.
REQ_CONFIG = "[req]\ndistinguished_name = dn\n[dn]\n"


@dataclass(frozen=True)
class LocalTls:
    directory: Path

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "localhost.pem"

    @property
    def key(self) -> Path:
        return self.directory / "localhost.key"

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_pem))


def tools() -> tuple[str, str]:
    """(nginx, openssl), or a clear exit naming the packages."""
    nginx = nginx_binary()
    openssl = shutil.which("openssl")
    if not nginx or not openssl:
        raise SystemExit(
            "run_local: TLS=1 needs nginx and openssl "
            "(Debian/Ubuntu: apt-get install -y nginx openssl)"
        )
    return nginx, openssl


def _openssl(openssl: str, *args: str) -> None:
    done = subprocess.run(
        [openssl, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"run_local: openssl {args[0]} failed: {done.stderr.strip()[-500:]}")


def _ca_usable(openssl: str, tls: LocalTls) -> bool:
    if not (tls.ca_pem.exists() and (tls.directory / "ca.key").exists()):
        return False
    check = [openssl, "x509", "-noout", "-checkend", str(LEAF_DAYS * 86400), "-in", str(tls.ca_pem)]
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


def ensure_certificates(run_dir: Path, openssl: str) -> tuple[LocalTls, bool]:
    """The CA (made when missing or about to expire) and a fresh server certificate.
    Returns the files and whether the CA is new (it must be trusted again)."""
    tls = LocalTls(run_dir / "tls")
    tls.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    d = tls.directory
    (d / "req.cnf").write_text(REQ_CONFIG)
    (d / "ca.cnf").write_text(REQ_CONFIG + CA_EXTENSIONS)  # `req` takes extensions from -config
    (d / "leaf.ext").write_text(LEAF_EXTENSIONS)
    old_umask = os.umask(0o077)  # private keys are never readable by others, even briefly
    try:
        new_ca = not _ca_usable(openssl, tls)
        if new_ca:
            _openssl(
                openssl, "req", "-x509", "-new", "-config", str(d / "ca.cnf"), "-extensions", "v3",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(d / "ca.key"), "-out", str(tls.ca_pem), "-days", str(CA_DAYS),
                "-subj", f"/CN={CA_NAME}",
            )  # fmt: skip
        _openssl(
            openssl, "req", "-new", "-config", str(d / "req.cnf"),
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(tls.key), "-out", str(d / "localhost.csr"), "-subj", "/CN=localhost",
        )  # fmt: skip
        _openssl(
            openssl, "x509", "-req", "-in", str(d / "localhost.csr"),
            "-CA", str(tls.ca_pem), "-CAkey", str(d / "ca.key"),
            "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(LEAF_DAYS),
            "-extfile", str(d / "leaf.ext"), "-extensions", "v3", "-out", str(tls.cert),
        )  # fmt: skip
    finally:
        os.umask(old_umask)
    (d / "localhost.csr").unlink()
    for public in (tls.ca_pem, tls.cert):  # certificates are public, only keys stay 0600
        public.chmod(0o644)
    return tls, new_ca


def nginx_argv(
    run_dir: Path, nginx: str, tls: LocalTls, port: int, upstreams: dict[str, list[str]]
) -> list[str]:
    """Render the Ingress stand-in for these upstreams into .run/nginx and return its argv
    (nginx's errors go to its stderr, so into make run's terminal with the nginx prefix)."""
    return Nginx(
        run_dir / "nginx",
        port,
        frontend=upstreams["frontend"][0],
        api=upstreams["api"][0],
        gateways=upstreams["gateway"],
        cert=tls.cert,
        key=tls.key,
        exe=nginx,
    ).prepare()


def trust_hint(tls: LocalTls, new_ca: bool) -> list[str]:
    """How to make a browser (and curl) trust the local CA."""
    ca = tls.ca_pem
    state = "new local CA, trust it once" if new_ca else "local CA (trust it once if not done)"
    return [
        f"run_local: TLS: {state}: {ca} (it can sign only localhost and loopback addresses)",
        "run_local:   Chrome/Chromium on Linux: certutil -d sql:$HOME/.pki/nssdb -A -t C,, "
        f"-n chat-local-ca -i {ca}  (libnss3-tools), then restart the browser",
        "run_local:   Firefox: Settings > Privacy & Security > Certificates > View "
        f"Certificates > Authorities > Import {ca}",
        f"run_local:   macOS: security add-trusted-cert -r trustRoot -k "
        f"~/Library/Keychains/login.keychain-db {ca}",
        f"run_local:   curl: curl --cacert {ca} https://localhost:.../api/healthz",
    ]
