"""TLS at the Ingress: your own Secret, a cert-manager Certificate or ingress-shim, k8s-dev's CA."""

from __future__ import annotations

import pytest
from chart_support import CHART, ROOT, Doc, Helm, Notes, env_of, find, one

pytestmark = pytest.mark.chart

SECRET = ("--set", "secrets.existingSecret=s")
HOST = ("--set", "ingress.host=chat.example.com")
CM = "ingress.certManager"
CERT_MANAGER = (*HOST, "--set", f"{CM}.enabled=true", "--set", f"{CM}.issuerRef.name=letsencrypt")
DEV = ("-f", str(ROOT / "k8s-dev" / "values-dev.yaml"))
DEV_TLS = (*DEV, "-f", str(ROOT / "k8s-dev" / "values-dev-tls.yaml"))


@pytest.mark.parametrize("major", [3, 4])
def test_bring_your_own_secret(helms: dict[int, Helm], major: int) -> None:
    """ingress.tls serves a Secret you created; the chart makes no Certificate or Secret."""
    docs = helms[major].template(
        *SECRET, *HOST, "--set", "ingress.tls[0].secretName=my-tls",
        "--set", "ingress.tls[0].hosts[0]=chat.example.com",
    )  # fmt: skip
    assert one(docs, "Ingress", "chat")["spec"]["tls"] == [
        {"secretName": "my-tls", "hosts": ["chat.example.com"]}
    ]
    assert not find(docs, "Certificate") and not find(docs, "Secret")


@pytest.mark.parametrize("major", [3, 4])
def test_cert_manager_certificate(helms: dict[int, Helm], major: int) -> None:
    """certManager renders a Certificate for the host into the Secret the Ingress serves."""
    docs = helms[major].template(*SECRET, *CERT_MANAGER)
    cert = one(docs, "Certificate", "chat")
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert cert["metadata"]["namespace"] == "chat"
    assert cert["spec"]["dnsNames"] == ["chat.example.com"]
    assert cert["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "letsencrypt",
    }
    (tls,) = one(docs, "Ingress", "chat")["spec"]["tls"]
    assert tls == {"secretName": cert["spec"]["secretName"], "hosts": ["chat.example.com"]}
    assert cert["spec"]["secretName"] == "chat-tls"
    ann = one(docs, "Ingress", "chat")["metadata"]["annotations"]
    assert not any(k.startswith("cert-manager.io/") for k in ann)  # no second, shim-made cert


def test_cert_manager_ingress_shim(prod_docs: list[Doc]) -> None:
    """The ingress-shim path: issuer annotation + ingress.tls, and no chart-made Certificate."""
    ing = one(prod_docs, "Ingress", "chat")
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ing["spec"]["tls"] == [
        {"secretName": "chat-example-com-tls", "hosts": ["chat.example.com"]}
    ]
    assert not find(prod_docs, "Certificate")


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", f"{CM}.enabled=true", "--set", f"{CM}.issuerRef.name=x"), "needs ingress.host"),
        ((*HOST, "--set", f"{CM}.enabled=true"), "issuerRef.name is required"),
        ((*CERT_MANAGER, "--set", "ingress.tls[0].secretName=t"), "not both"),
        (
            (*CERT_MANAGER, "--set", "ingress.annotations.cert-manager\\.io/cluster-issuer=x"),
            "second Certificate",
        ),
        ((*CERT_MANAGER, "--set", "ingress.enabled=false"), "needs ingress.enabled"),
        ((*CERT_MANAGER, "--set", f"{CM}.issuerRef.kind=Vault"), "kind"),
        (("--set", "ingress.tls[0].hosts[0]=h"), "secretName"),
    ],
    ids=["no-host", "no-issuer", "both", "shim-too", "no-ingress", "kind", "tls-without-secret"],
)
def test_tls_misconfigurations_fail(
    helms: dict[int, Helm], major: int, args: tuple[str, ...], message: str
) -> None:
    """Combinations that cannot serve a certificate fail rendering and say why."""
    proc = helms[major].run("template", "chat", str(CHART), *SECRET, *args, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("major", [3, 4])
def test_notes_warn_on_tls_and_cookie_mismatch(notes: Notes, major: int) -> None:
    """NOTES warns when the Ingress has no TLS but COOKIE_SECURE is true, and the reverse."""
    plain_secure = notes(major, *SECRET)
    assert "WARNING: the Ingress serves plain HTTP but config.cookieSecure=true" in plain_secure
    tls_insecure = notes(major, *SECRET, *CERT_MANAGER, "--set", "config.cookieSecure=false")
    assert "WARNING: the Ingress serves HTTPS but config.cookieSecure=false" in tls_insecure
    assert "https://chat.example.com/" in tls_insecure
    matched = notes(major, *SECRET, *CERT_MANAGER)
    assert "WARNING" not in matched
    assert 'cert-manager Certificate "chat" (ClusterIssuer "letsencrypt")' in matched
    plain_dev = notes(major, *DEV)  # k8s-dev over http: cookieSecure is false there
    assert "cookieSecure" not in plain_dev and "http://localhost/" in plain_dev
    no_ingress = notes(major, *SECRET, "--set", "ingress.enabled=false")
    assert "WARNING" not in no_ingress  # port-forward to localhost keeps Secure cookies


def test_k8s_dev_self_signed_issuer(helm: Helm) -> None:
    """k8s-dev's deps chart makes a self-signed CA and the Issuer the TLS overlay uses."""
    assert not find(helm.template(chart=ROOT / "k8s-dev" / "deps"), "Issuer")
    deps = helm.template("--set", "tls.selfSignedIssuer=true", chart=ROOT / "k8s-dev" / "deps")
    selfsigned = one(deps, "Issuer", "chat-dev-selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    ca_cert = one(deps, "Certificate", "chat-dev-ca")
    assert ca_cert["spec"]["isCA"] is True
    assert ca_cert["spec"]["issuerRef"]["name"] == "chat-dev-selfsigned"
    ca_issuer = one(deps, "Issuer", "chat-dev-ca")
    assert ca_issuer["spec"]["ca"]["secretName"] == ca_cert["spec"]["secretName"]

    docs = helm.template(*DEV_TLS)
    cert = one(docs, "Certificate", "chat")
    ref = cert["spec"]["issuerRef"]
    assert (ref["kind"], ref["name"]) == ("Issuer", ca_issuer["metadata"]["name"])
    assert cert["metadata"]["namespace"] == ca_issuer["metadata"]["namespace"]
    cfg = one(docs, "ConfigMap", "chat-api")["data"]
    assert cfg["COOKIE_SECURE"] == "true" and cfg["CORS_ORIGINS"] == "https://localhost"
    assert one(docs, "Ingress", "chat")["spec"]["tls"][0]["hosts"] == ["localhost"]


def test_up_sh_wires_tls() -> None:
    """up.sh with TLS=1 installs cert-manager, turns the dev CA on and adds the TLS values."""
    text = (ROOT / "k8s-dev" / "up.sh").read_text()
    assert "bash k8s-dev/cert-manager.sh" in text
    assert "--set tls.selfSignedIssuer=true" in text
    assert "-f k8s-dev/values-dev-tls.yaml" in text
    assert (ROOT / "k8s-dev" / "cert-manager.sh").is_file()


@pytest.mark.parametrize("major", [3, 4])
def test_hsts_only_with_tls(helms: dict[int, Helm], major: int) -> None:
    """The frontend gets HSTS_MAX_AGE_SECONDS (a plain integer) only when the Ingress serves
    HTTPS; k8s-dev's TLS values keep it off, since it serves localhost."""
    helm = helms[major]
    plain = env_of(helm.template(*SECRET, *HOST), "frontend")
    assert "HSTS_MAX_AGE_SECONDS" not in plain and "HSTS_INCLUDE_SUBDOMAINS" not in plain
    tls = env_of(helm.template(*SECRET, *CERT_MANAGER), "frontend")
    assert (tls["HSTS_MAX_AGE_SECONDS"], tls["HSTS_INCLUDE_SUBDOMAINS"]) == ("31536000", "false")
    sub = ("--set", "frontend.hsts.includeSubDomains=true")
    assert (
        env_of(helm.template(*SECRET, *CERT_MANAGER, *sub), "frontend")["HSTS_INCLUDE_SUBDOMAINS"]
        == "true"
    )
    assert "HSTS_MAX_AGE_SECONDS" not in env_of(helm.template(*SECRET, *DEV_TLS), "frontend")
