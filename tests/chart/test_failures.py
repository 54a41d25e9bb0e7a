"""Rendering refuses bad input: missing secret, wrong types (strict schema), unsafe settings."""

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


CSC = "podDefaults.containerSecurityContext"
PSC = "podDefaults.podSecurityContext"


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize(
    ("setting", "path"),
    [
        (f"{CSC}.privileged=true", "privileged"),
        (f"{CSC}.allowPrivilegeEscalation=true", "allowPrivilegeEscalation"),
        (f"{CSC}.allowPrivilegeEscalation=null", "allowPrivilegeEscalation"),
        (f"{CSC}.runAsUser=0", "runAsUser"),
        (f"{CSC}.runAsNonRoot=false", "runAsNonRoot"),
        (f"{CSC}.readOnlyRootFilesystem=false", "readOnlyRootFilesystem"),
        (f"{CSC}.capabilities.add[0]=NET_ADMIN", "add"),
        (f"{CSC}.capabilities.drop[0]=NET_RAW", "drop"),
        (f"{CSC}.procMount=Unmasked", "procMount"),
        (f"{CSC}.seccompProfile.type=Unconfined", "type"),
        (f"{CSC}.seLinuxOptions.user=system_u", "user"),
        (f"{CSC}=null", "containerSecurityContext"),
        (f"{PSC}.runAsUser=0", "runAsUser"),
        (f"{PSC}.runAsNonRoot=false", "runAsNonRoot"),
        (f"{PSC}.runAsNonRoot=null", "runAsNonRoot"),
        (f"{PSC}.seccompProfile.type=Unconfined", "type"),
        (f"{PSC}.sysctls[0].name=net.core.somaxconn", "sysctls"),
        (f"{PSC}.windowsOptions.hostProcess=true", "windowsOptions"),
    ],
    ids=lambda v: v,
)
def test_schema_keeps_pss_restricted(
    helms: dict[int, Helm], major: int, setting: str, path: str
) -> None:
    """Security-context values that would break PSS "restricted" are refused, not rendered."""
    proc = helms[major].run("template", "chat", str(CHART), *SECRET, "--set", setting, check=False)
    assert proc.returncode != 0, f"accepted {setting}"
    assert path in proc.stderr


@pytest.mark.parametrize("major", [3, 4])
def test_schema_accepts_restricted_variants(helms: dict[int, Helm], major: int) -> None:
    """Allowed tightening still renders: another UID, a Localhost seccomp profile, SELinux level."""
    helms[major].run(
        "template", "chat", str(CHART), *SECRET,
        "--set", f"{PSC}.runAsUser=20000", "--set", f"{CSC}.runAsUser=20000",
        "--set", f"{PSC}.seccompProfile.type=Localhost",
        "--set", f"{PSC}.seccompProfile.localhostProfile=profiles/chat.json",
        "--set", f"{CSC}.seLinuxOptions.level=s0:c123\\,c456",
    )  # fmt: skip


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("key", ["api", "gateway", "frontend"])
def test_min_replicas_above_max_fails(helms: dict[int, Helm], major: int, key: str) -> None:
    """An HPA with minReplicas > maxReplicas fails rendering and names the values."""
    proc = helms[major].run(
        "template", "chat", str(CHART), *SECRET,
        "--set", f"{key}.autoscaling.minReplicas=9", "--set", f"{key}.autoscaling.maxReplicas=3",
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert (
        f"{key}.autoscaling.minReplicas (9) must not exceed {key}.autoscaling.maxReplicas (3)"
        in (proc.stderr)
    )
