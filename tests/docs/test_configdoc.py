"""The configuration tables in the READMEs are the ones scripts/configdoc.py renders."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("configdoc", ROOT / "scripts" / "configdoc.py")
assert _spec and _spec.loader
configdoc = importlib.util.module_from_spec(_spec)
sys.modules["configdoc"] = configdoc
_spec.loader.exec_module(configdoc)


def test_readme_regions_match_the_settings():
    """Every README region equals what `make docs` renders from the settings classes."""
    stale = configdoc.stale()
    assert not stale, f"stale configuration tables in {sorted(stale)}: run `make docs`"


@pytest.mark.parametrize("service", configdoc.SERVICES, ids=lambda s: s.name)
def test_every_setting_has_a_description(service):
    """Each settings field says what it does, so its table row is never blank."""
    cls = configdoc.load(service)
    missing = [n for n, f in cls.model_fields.items() if not (f.description or "").strip()]
    assert not missing, f"{service.settings}: no Field(description=...) on {missing}"


@pytest.mark.parametrize("service", configdoc.SERVICES, ids=lambda s: s.name)
def test_every_variable_is_in_its_readme(service):
    """The service README's region lists every variable the settings class reads."""
    cls = configdoc.load(service)
    text = (ROOT / service.readme).read_text()
    region = configdoc.pattern(service.name).search(text)
    assert region, f"{service.readme} has no <!-- config:{service.name} --> region"
    for name, field in cls.model_fields.items():
        assert f"| `{configdoc.env_name(cls, name, field)}` |" in region.group(0)


class _Sample(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="chat_")

    ttl: int = Field(900, ge=30, le=900, description="lifetime | seconds")
    mode: Literal["a", "b"] = Field("a", description="which")
    secret: str = Field(..., alias="THE_SECRET", description="key")
    url: str | None = Field(None, description="where")


def test_table_honours_prefix_alias_and_constraints():
    """Env names follow env_prefix or the alias; bounds, choices and required are shown."""
    rows = configdoc.table(_Sample).splitlines()[2:]
    assert rows == [
        "| `CHAT_TTL` | `900` | ≥ 30, ≤ 900 | lifetime \\| seconds |",
        "| `CHAT_MODE` | `a` | `a` \\| `b` | which |",
        "| `THE_SECRET` | **required** | string | key |",
        "| `CHAT_URL` | unset | string | where |",
    ]


def test_render_replaces_only_the_region():
    """Text outside the markers is kept; a file without the region is an error."""
    text = "intro\n<!-- config:x -->\nold\n<!-- /config:x -->\noutro\n"
    assert configdoc.render(text, "x", "new") == text.replace("old", "new")
    with pytest.raises(ValueError, match="config:y"):
        configdoc.render(text, "y", "new")


def test_check_mode_reports_a_stale_region(tmp_path, monkeypatch, capsys):
    """`configdoc.py --check` exits 1 and names the file when a table was edited by hand."""
    for path in {p for p, _ in configdoc.regions().values()}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    readme = tmp_path / "api" / "README.md"
    readme.write_text(readme.read_text().replace("| `JWT_SECRET` |", "| `JWT_SECRET_X` |"))
    monkeypatch.setattr(configdoc, "ROOT", tmp_path)
    assert configdoc.main(["--check"]) == 1
    assert "api/README.md" in capsys.readouterr().err


def test_contract_ports_are_the_defaults():
    """Each `N (`VAR`` port in docs/contract.md's service table is that variable's default."""
    text = (ROOT / "docs" / "contract.md").read_text()
    defaults = {}
    for service in configdoc.SERVICES:
        cls = configdoc.load(service)
        for name, field in cls.model_fields.items():
            defaults[configdoc.env_name(cls, name, field)] = field.default
    found = re.findall(r"(\d+) \(`([A-Z_]+)`", text)
    assert len(found) == 6
    for port, var in found:
        assert defaults[var] == int(port), f"docs/contract.md: {var} {port}, code {defaults[var]}"
