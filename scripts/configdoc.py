"""Render the configuration tables from the services' settings classes (`make docs`).

Each table lies between `<!-- config:NAME -->` and `<!-- /config:NAME -->` in a README and is
rewritten from `model_fields`: the environment variable (env_prefix + name, or the alias), the
default, the constraints the Field declares (ge/le/..., Literal choices) and its description.
So the docs cannot drift from the code: tests/docs/test_configdoc.py fails when a region differs
from what this renders. `--check` only reports, exit 1 on a stale region.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Service:
    name: str  # the marker name, also the service directory
    settings: str  # "module:Class"
    readme: str  # the service README, relative to ROOT


SERVICES = (
    Service("api", "chat_api.config:Settings", "api/README.md"),
    Service("ws-gateway", "ws_gateway.config:Settings", "ws-gateway/README.md"),
    Service("frontend", "chat_frontend.config:Settings", "frontend/README.md"),
)
INDEX = "services"  # the root README's region: where each service's table is
BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def load(service: Service) -> type[BaseSettings]:
    module, _, name = service.settings.partition(":")
    cls: type[BaseSettings] = getattr(importlib.import_module(module), name)
    return cls


def env_name(cls: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The variable pydantic-settings reads: the alias if set, else env_prefix + name."""
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    if alias:
        return alias.upper()
    prefix = cls.model_config.get("env_prefix") or ""
    return f"{prefix}{name}".upper()


def default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return f"`{getattr(field.default_factory, '__name__', 'computed')}()`"
    value = field.default
    if value is PydanticUndefined:
        return "**required**"
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def constraint_text(field: FieldInfo) -> str:
    """Bounds from the Field's metadata, Literal choices, else the value's type."""
    bounds = [
        f"{sign} {getattr(meta, attr)}"
        for meta in field.metadata
        for attr, sign in BOUNDS
        if getattr(meta, attr, None) is not None
    ]
    if bounds:
        return ", ".join(bounds)
    annotation = field.annotation
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{choice}`" for choice in get_args(annotation))
    return type_name(annotation)


def type_name(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args:  # Optional[X]
        return type_name(args[0])
    names = {bool: "bool", int: "integer", float: "number", str: "string"}
    return names.get(annotation, "secret" if "Secret" in str(annotation) else "string")


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def table(cls: type[BaseSettings]) -> str:
    rows = ["| variable | default | allowed | meaning |", "|---|---|---|---|"]
    for name, field in cls.model_fields.items():
        rows.append(
            f"| `{env_name(cls, name, field)}` | {default_text(field)} "
            f"| {constraint_text(field)} | {cell(field.description or '')} |"
        )
    return "\n".join(rows)


def index() -> str:
    """The root README's pointer list: one table per service, rendered in its README."""
    lines = []
    for service in SERVICES:
        cls = load(service)
        required = [
            f"`{env_name(cls, name, field)}`"
            for name, field in cls.model_fields.items()
            if field.is_required()
        ]
        link = f"{service.readme}#{anchor((ROOT / service.readme).read_text(), service.name)}"
        lines.append(
            f"- **{service.name}**: [{len(cls.model_fields)} variables]({link}) "
            f"(`{service.settings.replace(':', '.')}`), "
            f"required: {', '.join(required) or 'none'}"
        )
    return "\n".join(lines)


def anchor(text: str, name: str) -> str:
    """GitHub's anchor of the last heading above the region `name`."""
    before = text[: text.index(f"<!-- config:{name} -->")]
    heading = re.findall(r"^#+ (.+)$", before, re.M)[-1]
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def regions() -> dict[str, tuple[str, str]]:
    """marker name -> (file relative to ROOT, rendered body)."""
    out = {s.name: (s.readme, table(load(s))) for s in SERVICES}
    out[INDEX] = ("README.md", index())
    return out


def pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- config:{re.escape(name)} -->\n).*?(\n<!-- /config:{re.escape(name)} -->)",
        re.S,
    )


def render(text: str, name: str, body: str) -> str:
    """`text` with the region `name` replaced by `body`; ValueError when it has none."""
    regex = pattern(name)
    if not regex.search(text):
        raise ValueError(f"no <!-- config:{name} --> region")
    return regex.sub(lambda m: m.group(1) + body + m.group(2), text, count=1)


def stale(root: Path | None = None) -> dict[str, tuple[str, str]]:
    """path -> (current text, rendered text) for every file whose regions are out of date."""
    root = root or ROOT
    files: dict[str, str] = {}
    for name, (path, body) in regions().items():
        current = files.get(path, (root / path).read_text())
        files[path] = render(current, name, body)
    return {
        path: ((root / path).read_text(), text)
        for path, text in files.items()
        if (root / path).read_text() != text
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale regions, exit 1")
    args = parser.parse_args(argv)
    changed = stale()
    for path, (_, text) in changed.items():
        if args.check:
            print(f"{path}: configuration table is stale; run `make docs`", file=sys.stderr)
        else:
            (ROOT / path).write_text(text)
            print(f"rewrote {path}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
