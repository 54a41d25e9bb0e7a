"""Throw-away TLS for tests: a test CA (trustme), server certificates it signs, and a
Chromium profile home whose NSS database trusts that CA, so the browser verifies the chain
for real (name, validity, issuer) instead of ignoring certificate errors.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme


@dataclass(frozen=True)
class ServerCert:
    """PEM files of one server certificate: `chain` (leaf first) and its private `key`."""

    chain: Path
    key: Path


@dataclass
class TestCA:
    """One throw-away certificate authority; its certificate is written to `ca_pem`."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    directory: Path
    ca: trustme.CA

    @classmethod
    def create(cls, directory: Path) -> TestCA:
        directory.mkdir(parents=True, exist_ok=True)
        made = cls(directory, trustme.CA(organization_name="chat tests"))
        made.ca.cert_pem.write_to_path(str(made.ca_pem))
        return made

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    def issue(self, name: str, *hosts: str) -> ServerCert:
        """A leaf for `hosts` (DNS names or IP addresses), written as <name>.pem/<name>.key."""
        leaf = self.ca.issue_cert(*hosts)
        cert = ServerCert(self.directory / f"{name}.pem", self.directory / f"{name}.key")
        cert.chain.write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(cert.key))
        cert.key.chmod(0o600)
        return cert

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA and checks host names."""
        return ssl.create_default_context(cafile=str(self.ca_pem))


def certutil() -> str:
    """The NSS `certutil` binary; fails the test with the package to install."""
    found = shutil.which("certutil")
    if not found:
        pytest.fail("certutil missing: apt-get install -y libnss3-tools (scripts/bootstrap.sh)")
    return found


def nss_home(home: Path, ca_pem: Path) -> Path:
    """A HOME whose ~/.pki/nssdb trusts `ca_pem` to issue server certificates.

    Chromium on Linux verifies against its root store plus the roots trusted in this user
    database, so a browser started with HOME=<this> accepts exactly the test CA's chains.
    """
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    tool = certutil()
    for argv in (
        [tool, "-N", "-d", f"sql:{db}", "--empty-password"],
        # "C,,": a trusted CA for TLS servers only (not e-mail or code signing).
        [tool, "-A", "-d", f"sql:{db}", "-n", "chat-test-ca", "-t", "C,,", "-i", str(ca_pem)],
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    return home
