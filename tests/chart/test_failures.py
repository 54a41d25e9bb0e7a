"""Rendering refuses bad input: missing secret, wrong types (strict schema), unsafe drain timing."""

from __future__ import annotations

import pytest
from chart_support import CHART, Helm

pytestmark = pytest.mark.chart

SECRET = ("--set", "secrets.existingSecret=s")


@pytest.mark.parametrize("major", [3, 4])
def test_missing_secret_fails_with_message(helms: dict[int, Helm], major: int) -> None:
    """Without secrets.existingSecret the chart fails to render and says what to do."""
    proc = helms[major].run("template", "chat", str(CHART), check=False)
    assert proc.returncode != 0
    assert "secrets.existingSecret is required" in proc.stderr
    assert "JWT_SECRET, DATABASE_URL and REDIS_URL" in proc.stderr


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("--set", "api.ports.http=abc"), "api"),
        (("--set-string", "gateway.replicaCount=2"), "gateway"),
        (("--set", "ingress.websocketTimeoutSeconds=60"), "websocketTimeoutSeconds"),
        (("--set", "ingress.enabled=maybe"), "ingress"),
        (("--set", "config.environment=staging"), "environment"),
        (("--set", "frontend.probes.liveness.path=healthz"), "path"),
        (("--set", "api.unknownKey=1"), "unknownKey"),
        (("--set", "typoTopLevel=1"), "typoTopLevel"),
        (("--set", "networkPolicy.externalDatastores[0].cidr=nonsense"), "cidr"),
        (("--set", "global.imagePullSecrets=notalist"), "imagePullSecrets"),
    ],
    ids=lambda v: v if isinstance(v, str) else v[1],
)
def test_schema_rejects(
    helms: dict[int, Helm], major: int, args: tuple[str, ...], path: str
) -> None:
    """values.schema.json rejects wrong types, unknown keys and out-of-range values."""
    proc = helms[major].run("template", "chat", str(CHART), *SECRET, *args, check=False)
    assert proc.returncode != 0, f"accepted {args}"
    assert path in proc.stderr


@pytest.mark.parametrize("major", [3, 4])
def test_schema_accepts_parent_globals(helms: dict[int, Helm], major: int) -> None:
    """`global` is declared; an umbrella chart's other globals do not break rendering."""
    helms[major].run("template", "chat", str(CHART), *SECRET, "--set", "global.other=1")


def test_grace_period_must_cover_drain(helm: Helm) -> None:
    """terminationGracePeriodSeconds <= preStop sleep + DRAIN_SECONDS fails with a reason."""
    proc = helm.run(
        "template", "chat", str(CHART), *SECRET,
        "--set", "gateway.drainSeconds=30", "--set", "gateway.terminationGracePeriodSeconds=30",
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "must exceed gateway.preStopSleepSeconds + gateway.drainSeconds" in proc.stderr
