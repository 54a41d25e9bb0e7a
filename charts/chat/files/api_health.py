"""helm test: the API answers GET <TEST_API_URL>/healthz with {"status": "ok"}.

Runs in the chart's own chat-api image with the standard library only, so `helm test` pulls
nothing from a public registry. While the Service has no ready endpoint yet it retries,
until TEST_TIMEOUT_SECONDS. Exit code 0 = pass.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

URL = os.environ["TEST_API_URL"].rstrip("/") + "/healthz"  # e.g. http://rel-chat-api:8000/api
DEADLINE = time.monotonic() + float(os.environ.get("TEST_TIMEOUT_SECONDS", "60"))
RETRY_SECONDS = float(os.environ.get("TEST_RETRY_SECONDS", "2"))


def attempt() -> str | None:
    """None when healthy, else what went wrong."""
    try:
        with urllib.request.urlopen(URL, timeout=5) as resp:
            body = json.loads(resp.read(4096))
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if body.get("status") == "ok" else f"unexpected body {body!r}"


def main() -> int:
    while True:
        problem = attempt()
        if problem is None:
            print(f"{URL}: ok", flush=True)
            return 0
        left = DEADLINE - time.monotonic()
        if left <= 0:
            print(f"{URL}: gave up: {problem}", file=sys.stderr, flush=True)
            return 1
        print(f"{URL}: {problem}, retrying", flush=True)
        time.sleep(min(RETRY_SECONDS, left))


if __name__ == "__main__":
    sys.exit(main())
