"""Real headless Chromium for browser tests: the system binary, never a Playwright download."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from chat_testkit.tls import nss_home

CHROMIUM = os.environ.get("CHAT_TEST_CHROMIUM", "/usr/bin/chromium")
# The launch arguments known to work on these machines (see ../shared/ENVIRONMENT.md).
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(trust_ca: Path | None = None) -> Iterator[Any]:
    """A launched playwright Browser; fails the test with an install hint if Chromium is absent.

    With `trust_ca` (a PEM file) the browser runs with a HOME of its own whose NSS database
    trusts that CA: HTTPS pages signed by it load and are verified like any other site,
    everything else keeps failing verification (no certificate error is ignored).

    Keep its scope at module level or narrower: a live sync Playwright marks its event loop as
    running in the main thread, which breaks asyncio tests collected after it.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (or set CHAT_TEST_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chat-chromium-") as home:
        env: dict[str, str | float | bool] | None = None
        if trust_ca is not None:
            env = {**os.environ, "HOME": str(nss_home(Path(home), trust_ca))}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, env=env
            )
            try:
                yield browser
            finally:
                browser.close()
