"""Ports and env the chart sets agree with docs/contract.md and the services' own Settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from chart_support import CHART, Doc, container, contract_ports, env_of, one

pytestmark = pytest.mark.chart


def port_map(c: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c["ports"]}


def test_ports_match_contract(dev_docs: list[Doc]) -> None:
    """Container ports and the *_PORT env the chart sets equal docs/contract.md defaults."""
    ports = contract_ports()
    assert port_map(container(dev_docs, "api")) == {
        "http": ports["API_PORT"],
        "internal": ports["API_INTERNAL_PORT"],
    }
    assert port_map(container(dev_docs, "ws-gateway")) == {
        "ws": ports["GATEWAY_PORT"],
        "ops": ports["GATEWAY_OPS_PORT"],
    }
    assert port_map(container(dev_docs, "frontend")) == {
        "http": ports["FRONTEND_PORT"],
        "ops": ports["FRONTEND_OPS_PORT"],
    }
    env = {
        **env_of(dev_docs, "api"),
        **env_of(dev_docs, "ws-gateway"),
        **env_of(dev_docs, "frontend"),
    }
    for name, port in ports.items():
        assert env[name] == str(port), name


def test_ports_match_service_settings(dev_docs: list[Doc]) -> None:
    """The services' own Settings defaults agree with the chart (drift in either side fails)."""
    from chat_api.config import Settings as ApiSettings
    from chat_frontend.config import Settings as FrontendSettings
    from ws_gateway.config import Settings as GatewaySettings

    expected = {
        "API_PORT": ApiSettings.model_fields["api_port"].default,
        "API_INTERNAL_PORT": ApiSettings.model_fields["api_internal_port"].default,
        "GATEWAY_PORT": GatewaySettings.model_fields["gateway_port"].default,
        "GATEWAY_OPS_PORT": GatewaySettings.model_fields["gateway_ops_port"].default,
        "FRONTEND_PORT": FrontendSettings.model_fields["frontend_port"].default,
        "FRONTEND_OPS_PORT": FrontendSettings.model_fields["frontend_ops_port"].default,
    }
    env = {
        **env_of(dev_docs, "api"),
        **env_of(dev_docs, "ws-gateway"),
        **env_of(dev_docs, "frontend"),
    }
    assert {k: int(env[k]) for k in expected} == expected
    # Every env name the chart sets is a field the service actually reads.
    for component, settings in (
        ("api", ApiSettings),
        ("ws-gateway", GatewaySettings),
        ("frontend", FrontendSettings),
    ):
        unknown = {k for k in env_of(dev_docs, component) if k.lower() not in settings.model_fields}
        assert not unknown, f"{component} ignores {unknown}"


# (values path, env name, service, Settings field) for the tuning settings the chart exposes.
TUNING = [
    ("api.internalMaxBodyBytes", "INTERNAL_MAX_BODY_BYTES", "api", "internal_max_body_bytes"),
    ("gateway.apiMaxConnections", "API_MAX_CONNECTIONS", "ws-gateway", "api_max_connections"),
    ("gateway.store.concurrency", "STORE_CONCURRENCY", "ws-gateway", "store_concurrency"),
    ("gateway.store.parallelMin", "STORE_PARALLEL_MIN", "ws-gateway", "store_parallel_min"),
    ("gateway.store.queueMax", "STORE_QUEUE_MAX", "ws-gateway", "store_queue_max"),
]


def _settings_field(component: str, field: str) -> Any:
    from chat_api.config import Settings as ApiSettings
    from ws_gateway.config import Settings as GatewaySettings

    return {"api": ApiSettings, "ws-gateway": GatewaySettings}[component].model_fields[field]


def _schema_node(path: str) -> dict[str, Any]:
    node = json.loads((CHART / "values.schema.json").read_text())
    for part in path.split("."):
        node = node["properties"][part]
    return dict(node)


@pytest.mark.parametrize(("path", "env", "component", "field"), TUNING, ids=[t[1] for t in TUNING])
def test_tuning_settings_follow_service_defaults(
    dev_docs: list[Doc], path: str, env: str, component: str, field: str
) -> None:
    """Each tuning value defaults to the service's own default, with at least its lower bound."""
    info = _settings_field(component, field)
    assert env_of(dev_docs, component)[env] == str(info.default)
    floor = next((m.ge for m in info.metadata if hasattr(m, "ge")), 1)
    assert _schema_node(path)["minimum"] >= floor


@pytest.mark.parametrize(("path", "env", "component", "field"), TUNING, ids=[t[1] for t in TUNING])
def test_tuning_settings_render_as_integers(
    helm: Any, tmp_path: Any, path: str, env: str, component: str, field: str
) -> None:
    """Large values reach the env as plain integers (YAML numbers are floats to helm)."""
    *parents, leaf = path.split(".")
    tree: dict[str, Any] = {leaf: 123456789}
    for part in reversed(parents):
        tree = {part: tree}
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(tree))
    docs = helm.template("--set", "secrets.existingSecret=s", "-f", str(values))
    assert env_of(docs, component)[env] == "123456789"


def test_gateway_reaches_api_by_service_urls(dev_docs: list[Doc]) -> None:
    """API_URL targets the public Service, API_INTERNAL_URL the internal-only Service."""
    env = env_of(dev_docs, "ws-gateway")
    assert env["API_URL"] == "http://chat-api:8000"
    assert env["API_INTERNAL_URL"] == "http://chat-api-internal:8001"
    internal = one(dev_docs, "Service", "chat-api-internal")
    assert [p["port"] for p in internal["spec"]["ports"]] == [8001]
