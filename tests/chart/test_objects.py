"""Assertions on the rendered objects: routes, probes, security, lifecycle, scaling, hooks."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from chart_support import Doc, container, contract_ports, env_of, find, one, pod_specs

pytestmark = pytest.mark.chart

SECRET_KEYS = {"JWT_SECRET", "DATABASE_URL", "REDIS_URL"}


# --- routes -----------------------------------------------------------------------------


@pytest.mark.parametrize("values", ["default-dev", "production"])
def test_ingress_routes(rendered: dict[str, list[Doc]], values: str) -> None:
    """One Ingress: / -> frontend:http, /api -> api:http, /ws -> gateway:ws, all Prefix."""
    ing = one(rendered[values], "Ingress", "chat")
    assert ing["spec"]["ingressClassName"] == "nginx"
    (rule,) = ing["spec"]["rules"]
    routes = {
        p["path"]: (p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"])
        for p in rule["http"]["paths"]
    }
    assert routes == {
        "/": ("Prefix", "chat-frontend", {"name": "http"}),
        "/api": ("Prefix", "chat-api", {"name": "http"}),
        "/ws": ("Prefix", "chat-ws-gateway", {"name": "ws"}),
    }


def test_ingress_websocket_timeouts(rendered: dict[str, list[Doc]]) -> None:
    """ingress-nginx read/send timeouts are >= 3600 s and far above the gateway ping interval."""
    for values, docs in rendered.items():
        for ing in find(docs, "Ingress"):
            ann = ing["metadata"]["annotations"]
            for key in ("proxy-read-timeout", "proxy-send-timeout"):
                assert int(ann[f"nginx.ingress.kubernetes.io/{key}"]) >= 3600, values
    ping = int(env_of(rendered["default-dev"], "ws-gateway")["PING_INTERVAL_SECONDS"])
    assert ping * 10 <= 3600


def test_ingress_never_routes_internal_or_ops_ports(rendered: dict[str, list[Doc]]) -> None:
    """Every Ingress backend is a Service whose only port is public (no 8001/9100/9102)."""
    private = {
        contract_ports()[k] for k in ("API_INTERNAL_PORT", "GATEWAY_OPS_PORT", "FRONTEND_OPS_PORT")
    }
    for docs in rendered.values():
        for ing in find(docs, "Ingress"):
            for path in ing["spec"]["rules"][0]["http"]["paths"]:
                svc = one(docs, "Service", path["backend"]["service"]["name"])
                assert {p["port"] for p in svc["spec"]["ports"]}.isdisjoint(private)


def test_class_and_host_are_values(helm: Any) -> None:
    """ingressClassName, host and TLS come from values."""
    docs = helm.template(
        "--set", "secrets.existingSecret=s", "--set", "ingress.className=traefik",
        "--set", "ingress.host=chat.test", "--set", "ingress.tls[0].secretName=t",
        "--set", "ingress.tls[0].hosts[0]=chat.test",
    )  # fmt: skip
    ing = one(docs, "Ingress", "chat")
    assert ing["spec"]["ingressClassName"] == "traefik"
    assert ing["spec"]["rules"][0]["host"] == "chat.test"
    assert ing["spec"]["tls"] == [{"secretName": "t", "hosts": ["chat.test"]}]


@pytest.mark.parametrize("major", [3, 4])
def test_service_annotations_only_on_routed_services(
    helms: dict[int, Any], major: int, tmp_path: Any
) -> None:
    """<component>.service.annotations land on the Service the Ingress routes to, nowhere else."""
    values = tmp_path / "values.yaml"
    gke = {"cloud.google.com/backend-config": '{"default": "ws"}'}
    values.write_text(
        yaml.safe_dump(
            {
                "api": {"service": {"annotations": {"a": "api"}}},
                "gateway": {"service": {"annotations": gke}},
                "frontend": {"service": {"annotations": {"f": "fe"}}},
            }
        )
    )
    docs = helms[major].template("--set", "secrets.existingSecret=s", "-f", str(values))
    routed = {
        "chat-api": {"a": "api"},
        "chat-ws-gateway": gke,
        "chat-frontend": {"f": "fe"},
    }
    for svc in find(docs, "Service"):
        name = svc["metadata"]["name"]
        assert svc["metadata"].get("annotations") == routed.get(name), name
    backends = {
        p["backend"]["service"]["name"]
        for p in one(docs, "Ingress", "chat")["spec"]["rules"][0]["http"]["paths"]
    }
    assert backends == set(routed)


def test_empty_class_leaves_ingress_class_name_out(helm: Any) -> None:
    """ingress.className="" omits spec.ingressClassName (GKE reads its annotation instead)."""
    docs = helm.template(
        "--set", "secrets.existingSecret=s", "--set", "ingress.className=",
        "--set", "ingress.annotations.kubernetes\\.io/ingress\\.class=gce",
        "--set", "networkPolicy.enabled=false",
    )  # fmt: skip
    ing = one(docs, "Ingress", "chat")
    assert "ingressClassName" not in ing["spec"]
    assert ing["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "gce"


# --- probes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "port"), [("api", "internal"), ("ws-gateway", "ops"), ("frontend", "ops")]
)
def test_probes_on_ops_ports(dev_docs: list[Doc], component: str, port: str) -> None:
    """startup/liveness hit /healthz and readiness /readyz, on the internal/ops port."""
    c = container(dev_docs, component)
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}


def test_probe_timings_are_values(helm: Any) -> None:
    """Probe period/threshold come from values."""
    docs = helm.template(
        "--set", "secrets.existingSecret=s",
        "--set", "gateway.probes.readiness.periodSeconds=7",
        "--set", "gateway.probes.readiness.failureThreshold=4",
    )  # fmt: skip
    probe = container(docs, "ws-gateway")["readinessProbe"]
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (7, 4)


# --- pod security -----------------------------------------------------------------------


def test_pss_restricted_everywhere(rendered: dict[str, list[Doc]]) -> None:
    """Every container (workloads, hook Job, helm tests) meets PSS restricted + read-only root."""
    for values, docs in rendered.items():
        for name, spec in pod_specs(docs):
            where = f"{values}:{name}"
            pod_ctx = spec["securityContext"]
            assert pod_ctx["runAsNonRoot"] is True, where
            assert pod_ctx["seccompProfile"]["type"] == "RuntimeDefault", where
            assert spec["automountServiceAccountToken"] is False, where
            assert spec["enableServiceLinks"] is False, where
            assert "hostNetwork" not in spec and "hostPID" not in spec, where
            for c in spec.get("initContainers", []) + spec["containers"]:
                ctx = c["securityContext"]
                assert ctx["allowPrivilegeEscalation"] is False, where
                assert ctx["capabilities"] == {"drop": ["ALL"]}, where
                assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] != 0, where
                assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
                assert "privileged" not in ctx, where
                if values != "default-dev" or c["name"] != "frontend":
                    assert ctx["readOnlyRootFilesystem"] is True, where
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                assert "tmp" == mounts.get("/tmp"), where
            vols = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in vols["tmp"], where


def test_resources_set(dev_docs: list[Doc]) -> None:
    """Every container requests CPU/memory and limits memory."""
    for name, spec in pod_specs(dev_docs):
        for c in spec["containers"]:
            assert c["resources"]["requests"].keys() >= {"cpu", "memory"}, name
            assert "memory" in c["resources"]["limits"], name


# --- gateway lifecycle, config checksums ------------------------------------------------


def test_gateway_drain(prod_docs: list[Doc]) -> None:
    """preStop sleeps, then DRAIN_SECONDS; the grace period covers both."""
    spec = one(prod_docs, "Deployment", "chat-ws-gateway")["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = int(env_of(prod_docs, "ws-gateway")["DRAIN_SECONDS"])
    assert sleep > 0 and spec["terminationGracePeriodSeconds"] > sleep + drain


def test_checksum_config_follows_config(helm: Any) -> None:
    """checksum/config changes when (and only when) that service's config changes."""

    def sums(*extra: str) -> dict[str, str]:
        docs = helm.template("--set", "secrets.existingSecret=s", *extra)
        return {
            d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"][
                "checksum/config"
            ]
            for d in find(docs, "Deployment")
        }

    base = sums()
    changed = sums(
        "--set", "gateway.drainSeconds=25", "--set", "gateway.terminationGracePeriodSeconds=45"
    )
    assert changed["chat-ws-gateway"] != base["chat-ws-gateway"]
    assert changed["chat-api"] == base["chat-api"]
    assert changed["chat-frontend"] == base["chat-frontend"]


# --- secrets ----------------------------------------------------------------------------


def test_secrets_only_from_existing_secret(rendered: dict[str, list[Doc]]) -> None:
    """No Secret objects; secret env comes only via secretKeyRef to secrets.existingSecret."""
    for values, docs in rendered.items():
        assert not find(docs, "Secret"), values
        secret_name = "chat-prod-secrets" if values == "production" else "chat-secrets"
        for name, spec in pod_specs(docs):
            for c in spec["containers"]:
                for e in c.get("env", []):
                    if e["name"] in SECRET_KEYS:
                        ref = e["valueFrom"]["secretKeyRef"]
                        assert (ref["name"], ref["key"]) == (secret_name, e["name"]), name
                    assert e.get("value") is None or e["name"] not in SECRET_KEYS, name
        for cm in find(docs, "ConfigMap"):
            assert SECRET_KEYS.isdisjoint(cm.get("data", {})), cm["metadata"]["name"]

    def refs(docs: list[Doc], component: str) -> set[str]:
        env = container(docs, component).get("env", [])
        return {e["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}

    dev = rendered["default-dev"]
    assert refs(dev, "api") == SECRET_KEYS
    assert refs(dev, "ws-gateway") == {"REDIS_URL"}
    assert refs(dev, "frontend") == set()


# --- scaling and disruption -------------------------------------------------------------


def test_hpa_and_pdb(prod_docs: list[Doc], rendered: dict[str, list[Doc]]) -> None:
    """HPA per service (gateway on CPU and connections), PDB per service; minimal has neither."""
    for comp in ("api", "ws-gateway", "frontend"):
        hpa = one(prod_docs, "HorizontalPodAutoscaler", f"chat-{comp}")
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"chat-{comp}"
        assert "replicas" not in one(prod_docs, "Deployment", f"chat-{comp}")["spec"]
        pdb = one(prod_docs, "PodDisruptionBudget", f"chat-{comp}")
        assert pdb["spec"]["maxUnavailable"] == 1
        dep = one(prod_docs, "Deployment", f"chat-{comp}")
        assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
        spread = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {s["topologyKey"] for s in spread} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }
    gw = one(prod_docs, "HorizontalPodAutoscaler", "chat-ws-gateway")["spec"]["metrics"]
    assert {m["type"] for m in gw} == {"Resource", "Pods"}
    assert gw[1]["pods"]["metric"]["name"] == "chat_gateway_connections"
    minimal = rendered["minimal"]
    assert not find(minimal, "HorizontalPodAutoscaler") and not find(minimal, "PodDisruptionBudget")
    assert one(minimal, "Deployment", "chat-ws-gateway")["spec"]["replicas"] == 1


# --- hooks ------------------------------------------------------------------------------


def test_migration_hook_ordering(dev_docs: list[Doc]) -> None:
    """The migrate Job is a pre-install/pre-upgrade hook that needs nothing the release creates."""
    job = one(dev_docs, "Job", "chat-migrate")
    ann = job["metadata"]["annotations"]
    assert set(ann["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in ann["helm.sh/hook-delete-policy"]
    spec = job["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["args"] == ["migrate"] and c["image"] == container(dev_docs, "api")["image"]
    # Regular objects are created after pre-install hooks: no envFrom ConfigMap, no chart SA.
    assert "envFrom" not in c and "serviceAccountName" not in spec
    mounted = {v.get("configMap", {}).get("name") for v in spec["volumes"]} - {None}
    assert not mounted
    env = {e["name"] for e in c["env"]}
    assert {"DATABASE_URL", "API_PREFIX", "ENVIRONMENT"} <= env
    hooks = [d for d in dev_docs if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    pre = [d for d in hooks if "pre-install" in d["metadata"]["annotations"]["helm.sh/hook"]]
    assert pre == [job]


def test_helm_test_pods(dev_docs: list[Doc]) -> None:
    """helm test pods check /api/healthz and run the two-replica WebSocket round trip."""
    tests = {
        d["metadata"]["name"]: d
        for d in dev_docs
        if d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"
    }
    assert set(tests) == {"chat-tests", "chat-test-api-health", "chat-test-ws-roundtrip"}
    health = tests["chat-test-api-health"]["spec"]["containers"][0]
    assert health["command"] == ["python", "/test/api_health.py"]
    env = {e["name"]: e["value"] for e in health["env"]}
    assert env["TEST_API_URL"] == "http://chat-api:8000/api"
    ws = tests["chat-test-ws-roundtrip"]["spec"]["containers"][0]
    assert ws["command"] == ["python", "/test/ws_roundtrip.py"]
    env = {e["name"]: e["value"] for e in ws["env"]}
    assert env["TEST_GATEWAY_PODS"] == "chat-ws-gateway-pods"
    headless = one(dev_docs, "Service", "chat-ws-gateway-pods")
    assert headless["spec"]["clusterIP"] == "None"
    # The scripts' ConfigMap is a test hook created before the pods that mount it.
    scripts = tests["chat-tests"]
    for pod in (tests["chat-test-api-health"], tests["chat-test-ws-roundtrip"]):
        assert int(scripts["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
            pod["metadata"]["annotations"]["helm.sh/hook-weight"]
        )
        vols = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert vols["scripts"]["configMap"]["name"] == "chat-tests"
        assert pod["spec"]["activeDeadlineSeconds"] > int(env["TEST_TIMEOUT_SECONDS"])
    assert "asyncio.run(main())" in scripts["data"]["ws_roundtrip.py"]
    assert "urllib.request" in scripts["data"]["api_health.py"]
    # Two replicas are guaranteed wherever the round trip runs.
    assert one(dev_docs, "HorizontalPodAutoscaler", "chat-ws-gateway")["spec"]["minReplicas"] >= 2


def test_helm_tests_pull_only_chart_images(rendered: dict[str, list[Doc]]) -> None:
    """Every helm test container runs one of the chart's own images (nothing from Docker Hub)."""
    for values, docs in rendered.items():
        own = {
            c["image"]
            for d in docs
            if d["kind"] == "Deployment"
            for c in d["spec"]["template"]["spec"]["containers"]
        }
        for d in find(docs, "Pod"):
            for c in d["spec"]["containers"]:
                assert c["image"] in own, f"{values}: {d['metadata']['name']} runs {c['image']}"
    prod = {c["image"] for _, spec in pod_specs(rendered["production"]) for c in spec["containers"]}
    assert all(i.startswith("registry.example.com/chat/") for i in prod)


def test_single_gateway_skips_round_trip(rendered: dict[str, list[Doc]]) -> None:
    """With one gateway replica (minimal) only the health test pod is rendered."""
    pods = {d["metadata"]["name"] for d in find(rendered["minimal"], "Pod")}
    assert pods == {"chat-test-api-health"}


def test_monitoring_objects(prod_docs: list[Doc]) -> None:
    """ServiceMonitors scrape only internal/ops ports; dashboard ConfigMap carries valid JSON."""
    import json

    for sm in find(prod_docs, "ServiceMonitor"):
        (ep,) = sm["spec"]["endpoints"]
        assert ep["port"] in {"internal", "ops"} and ep["path"] == "/metrics"
        match = sm["spec"]["selector"]["matchLabels"]
        svcs = [
            s for s in find(prod_docs, "Service")
            if match.items() <= s["metadata"]["labels"].items()
        ]  # fmt: skip
        assert len(svcs) == 1 and ep["port"] in {p["name"] for p in svcs[0]["spec"]["ports"]}
    assert len(find(prod_docs, "ServiceMonitor")) == 3
    dash = one(prod_docs, "ConfigMap", "chat-dashboard")
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dash["data"]["chat.json"])["panels"]
