"""NetworkPolicies: default deny, the ingress controller presets, and per-component egress."""

from __future__ import annotations

from typing import Any

import pytest
from chart_support import CHART, ROOT, Doc, Helm, Notes, one

pytestmark = pytest.mark.chart

SECRET = ("--set", "secrets.existingSecret=s")
IC = "networkPolicy.ingressController"
ROUTED = {"chat-api": 8000, "chat-ws-gateway": 8765, "chat-frontend": 8080}
# The controllers' pod labels and namespaces as their official charts/manifests set them.
PRESETS = {
    "ingress-nginx": (
        ["ingress-nginx"],
        {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
    ),
    "traefik": (["kube-system", "traefik"], {"app.kubernetes.io/name": "traefik"}),
    "haproxy": (["haproxy-controller"], {"app.kubernetes.io/name": "kubernetes-ingress"}),
}


def _peers(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return list(rule.get("from", rule.get("to", [])))


def _components(peers: list[dict[str, Any]]) -> set[str]:
    return {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for p in peers
        if "podSelector" in p and "namespaceSelector" not in p
    }


def controller_peers(docs: list[Doc]) -> dict[str, list[dict[str, Any]]]:
    """{policy name: peers other than the release's own pods} on each routed port."""
    found = {}
    for name, port in ROUTED.items():
        spec = one(docs, "NetworkPolicy", name)["spec"]
        (rule,) = [r for r in spec["ingress"] if [p["port"] for p in r["ports"]] == [port]]
        found[name] = [p for p in _peers(rule) if "namespaceSelector" in p or "ipBlock" in p]
    return found


def preset_peer(namespaces: list[str], labels: dict[str, str]) -> dict[str, Any]:
    expr = {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}
    return {
        "namespaceSelector": {"matchExpressions": [expr]},
        "podSelector": {"matchLabels": labels},
    }


def test_default_deny_and_allows(dev_docs: list[Doc]) -> None:
    """Default deny for every app pod, then only the flows the app needs."""
    deny = one(dev_docs, "NetworkPolicy", "chat-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    assert deny["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "chat"

    api = one(dev_docs, "NetworkPolicy", "chat-api")["spec"]
    public, internal, metrics = api["ingress"]
    assert [p["port"] for p in public["ports"]] == [8000]
    assert _components(_peers(public)) == {"ws-gateway", "test"}
    assert _components(_peers(internal)) == {"ws-gateway"}
    assert [p["port"] for p in internal["ports"]] == [8001]
    assert "namespaceSelector" in _peers(metrics)[0]

    gw = one(dev_docs, "NetworkPolicy", "chat-ws-gateway")["spec"]
    egress_components = set().union(*(_components(_peers(r)) for r in gw["egress"]))
    assert "api" in egress_components
    fe = one(dev_docs, "NetworkPolicy", "chat-frontend")["spec"]
    assert fe["policyTypes"] == ["Ingress"]  # egress stays denied by default-deny


@pytest.mark.parametrize("preset", list(PRESETS))
def test_auto_preset_follows_ingress_class(helm: Helm, preset: str) -> None:
    """preset=auto admits the controller that serves ingress.className, on every routed port."""
    class_name = {"ingress-nginx": "nginx"}.get(preset, preset)
    docs = helm.template(*SECRET, "--set", f"ingress.className={class_name}")
    expected = preset_peer(*PRESETS[preset])
    assert controller_peers(docs) == {name: [expected] for name in ROUTED}


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_explicit_preset_and_namespaces(helms: dict[int, Helm], major: int, preset: str) -> None:
    """An explicit preset wins over the class; `namespaces` moves it to another namespace."""
    docs = helms[major].template(
        *SECRET, "--set", "ingress.className=other", "--set", f"{IC}.preset={preset}",
        "--set", f"{IC}.namespaces={{edge,edge-2}}",
    )  # fmt: skip
    expected = preset_peer(["edge", "edge-2"], PRESETS[preset][1])
    assert controller_peers(docs) == {name: [expected] for name in ROUTED}


@pytest.mark.parametrize("major", [3, 4])
def test_auto_with_unknown_class_fails(helms: dict[int, Helm], major: int) -> None:
    """An IngressClass no preset knows fails rendering and lists the choices (no silent lockout)."""
    proc = helms[major].run(
        "template", "chat", str(CHART), *SECRET, "--set", "ingress.className=gce", check=False
    )
    assert proc.returncode != 0
    assert 'preset=auto knows no controller for ingress.className "gce"' in proc.stderr
    assert "any-namespace" in proc.stderr


def test_custom_needs_both_selectors(helm: Helm) -> None:
    """preset=custom uses the selectors verbatim and refuses an empty one."""
    proc = helm.run(
        "template", "chat", str(CHART), *SECRET, "--set", f"{IC}.preset=custom",
        "--set", f"{IC}.podSelector.matchLabels.app=edge-proxy", check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "needs both namespaceSelector and podSelector" in proc.stderr
    proc = helm.run(
        "template", "chat", str(CHART), *SECRET, "--set", f"{IC}.preset=custom",
        "--set", f"{IC}.podSelector.matchLabels.app=edge-proxy",
        "--set-json", f'{IC}.namespaceSelector={{"matchLabels": {{}}}}', check=False,
    )  # fmt: skip
    assert proc.returncode != 0, "an empty matchLabels selects every namespace"
    docs = helm.template(
        *SECRET, "--set", f"{IC}.preset=custom",
        "--set", f"{IC}.podSelector.matchLabels.app=edge-proxy",
        "--set", f"{IC}.namespaceSelector.matchLabels.team=edge",
    )  # fmt: skip
    expected = {
        "namespaceSelector": {"matchLabels": {"team": "edge"}},
        "podSelector": {"matchLabels": {"app": "edge-proxy"}},
    }
    assert controller_peers(docs) == {name: [expected] for name in ROUTED}


@pytest.mark.parametrize("major", [3, 4])
def test_selectors_without_custom_fail(helms: dict[int, Helm], major: int) -> None:
    """Selectors under another preset would be ignored silently, so rendering refuses them."""
    proc = helms[major].run(
        "template", "chat", str(CHART), *SECRET,
        "--set", f"{IC}.podSelector.matchLabels.app=edge-proxy", check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and "used only with preset=custom" in proc.stderr


def test_any_namespace_only_when_chosen(helm: Helm, rendered: dict[str, list[Doc]]) -> None:
    """Every namespace is admitted only by preset=any-namespace, never by a default."""
    for values, docs in rendered.items():
        if values != "minimal":  # minimal renders no NetworkPolicy at all
            for peers in controller_peers(docs).values():
                assert all(p.get("namespaceSelector") != {} for p in peers), values
    docs = helm.template(*SECRET, "--set", f"{IC}.preset=any-namespace")
    assert controller_peers(docs) == {name: [{"namespaceSelector": {}}] for name in ROUTED}


def test_ip_blocks_and_preset_none(helm: Helm) -> None:
    """ipBlocks add CIDR sources (cloud load balancers); preset=none admits only those."""
    gke = ("--set", f"{IC}.ipBlocks={{130.211.0.0/22,35.191.0.0/16}}")
    blocks = [{"ipBlock": {"cidr": "130.211.0.0/22"}}, {"ipBlock": {"cidr": "35.191.0.0/16"}}]
    docs = helm.template(*SECRET, *gke)
    nginx = preset_peer(*PRESETS["ingress-nginx"])
    assert controller_peers(docs) == {name: [nginx, *blocks] for name in ROUTED}
    docs = helm.template(
        *SECRET, "--set", "ingress.className=gce", "--set", f"{IC}.preset=none", *gke
    )
    assert controller_peers(docs) == dict.fromkeys(ROUTED, blocks)
    proc = helm.run(
        "template", "chat", str(CHART), *SECRET, "--set", f"{IC}.preset=none", check=False
    )
    assert proc.returncode != 0 and "ipBlocks must list" in proc.stderr


def test_health_check_ranges_reach_ops_ports_only(helm: Helm) -> None:
    """healthCheckIpBlocks open the gateway's and frontend's ops ports, and nothing else."""
    docs = helm.template(*SECRET, "--set", "networkPolicy.healthCheckIpBlocks={35.191.0.0/16}")
    opened = set()
    for pol in (d for d in docs if d["kind"] == "NetworkPolicy"):
        for rule in pol["spec"].get("ingress", []):
            if {"ipBlock": {"cidr": "35.191.0.0/16"}} in _peers(rule):
                opened |= {(pol["metadata"]["name"], p["port"]) for p in rule["ports"]}
    assert opened == {("chat-ws-gateway", 9100), ("chat-frontend", 9102)}


def test_datastores_only_from_their_clients(helm: Helm) -> None:
    """In-cluster Postgres admits api + migrate only, Redis api + gateway only (k8s-dev)."""
    docs = helm.template("-f", str(ROOT / "k8s-dev" / "values-dev.yaml"))
    pg = one(docs, "NetworkPolicy", "chat-postgres-from-app")["spec"]
    redis = one(docs, "NetworkPolicy", "chat-redis-from-app")["spec"]
    assert pg["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "postgres"}
    assert _components(_peers(pg["ingress"][0])) == {"api", "migrate"}
    assert _components(_peers(redis["ingress"][0])) == {"api", "ws-gateway"}
    assert [p["port"] for p in pg["ingress"][0]["ports"]] == [5432]
    deps = helm.template(chart=ROOT / "k8s-dev" / "deps")
    labels = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in deps
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    assert labels["postgres"]["app.kubernetes.io/name"] == "postgres"
    assert labels["redis"]["app.kubernetes.io/name"] == "redis"


def egress_targets(docs: list[Doc], policy: str) -> set[tuple[str, int]]:
    """(pod name label or CIDR or "*", port) for every datastore egress rule of a policy."""
    targets = set()
    for rule in one(docs, "NetworkPolicy", policy)["spec"]["egress"]:
        peers = _peers(rule) or [{}]
        for peer in peers:
            if "ipBlock" in peer:
                what = peer["ipBlock"]["cidr"]
            elif (
                peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/instance")
            ):
                continue  # the release's own pods (gateway -> api)
            elif "podSelector" in peer:
                what = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            else:
                what = "*"
            targets |= {(what, p["port"]) for p in rule["ports"]}
    return targets


def test_egress_narrowed_per_component(helm: Helm, prod_docs: list[Doc]) -> None:
    """The gateway reaches only Redis, the migration Job only PostgreSQL, the API both."""
    pg, redis = ("10.20.0.0/16", 5432), ("10.30.0.0/16", 6379)
    assert egress_targets(prod_docs, "chat-api") == {pg, redis}
    assert egress_targets(prod_docs, "chat-ws-gateway") == {redis}
    assert egress_targets(prod_docs, "chat-migrate") == {pg}

    dev = helm.template("-f", str(ROOT / "k8s-dev" / "values-dev.yaml"))
    assert egress_targets(dev, "chat-api") == {("postgres", 5432), ("redis", 6379)}
    assert egress_targets(dev, "chat-ws-gateway") == {("redis", 6379)}
    assert egress_targets(dev, "chat-migrate") == {("postgres", 5432)}

    # Nothing declared: the fallback opens only the ports each component uses.
    bare = helm.template(*SECRET)
    assert egress_targets(bare, "chat-ws-gateway") == {("*", 6379)}
    assert egress_targets(bare, "chat-migrate") == {("*", 5432)}
    assert egress_targets(bare, "chat-api") == {("*", 5432), ("*", 6379)}


def test_migration_job_gets_no_redis_url(prod_docs: list[Doc]) -> None:
    """The migration Job carries no REDIS_URL: it only talks to PostgreSQL."""
    (c,) = one(prod_docs, "Job", "chat-migrate")["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in c["env"]}
    assert {"DATABASE_URL", "JWT_SECRET"} <= names and "REDIS_URL" not in names


@pytest.mark.parametrize("major", [3, 4])
def test_notes_name_the_admitted_source(notes: Notes, major: int) -> None:
    """NOTES says which ingress source is admitted, and warns when it cannot match the class."""
    text = notes(major, *SECRET, "--set", "ingress.className=traefik")
    assert (
        "traefik pods (app.kubernetes.io/name=traefik) in namespace(s) kube-system, traefik" in text
    )
    assert '[auto, from ingress.className "traefik"]' in text
    assert "WARNING: ingress.className" not in text
    text = notes(
        major, *SECRET, "--set", "ingress.className=traefik", "--set", f"{IC}.preset=ingress-nginx"
    )
    assert "WARNING: ingress.className=traefik is usually served by traefik" in text
    text = notes(major, *SECRET, "--set", f"{IC}.preset=any-namespace")
    assert "ANY pod in ANY namespace" in text
