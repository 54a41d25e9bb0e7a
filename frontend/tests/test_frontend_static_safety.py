"""Source greps that keep the UI free of HTML injection sinks, token storage and inline code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src/chat_frontend"
JS_FILES = sorted((SRC / "static").rglob("*.js"))
TEMPLATES = sorted((SRC / "templates").glob("*.html"))

FORBIDDEN_JS = {
    "innerHTML": "render with textContent/createElement",
    "outerHTML": "render with textContent/createElement",
    "insertAdjacentHTML": "render with textContent/createElement",
    "document.write": "render with textContent/createElement",
    "localStorage": "tokens live in memory; the refresh token is an HttpOnly cookie",
    "sessionStorage": "tokens live in memory; the refresh token is an HttpOnly cookie",
    "eval(": "CSP forbids eval",
    "new Function": "CSP forbids eval",
    "document.cookie": "the refresh cookie is HttpOnly; JS never touches cookies",
}


def test_there_is_js_to_check() -> None:
    """The glob finds the modules (guards against a vacuous pass after a move)."""
    names = {p.name for p in JS_FILES}
    assert {"api.js", "socket.js", "store.js", "ui.js"} <= names


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_js_has_no_forbidden_sinks(path: Path) -> None:
    """No innerHTML/outerHTML, localStorage/sessionStorage, eval( or cookie access in any module."""
    text = path.read_text()
    found = [f"{word} ({why})" for word, why in FORBIDDEN_JS.items() if word in text]
    assert not found, f"{path.name}: {found}"


def test_no_token_in_websocket_url() -> None:
    """The socket authenticates with a first frame; the URL never carries a token."""
    socket_js = (SRC / "static/js/socket.js").read_text()
    assert "new WebSocket(this.url)" in socket_js
    assert not re.search(r"new WebSocket\([^)]*token", socket_js)
    assert "{ type: CLIENT_FRAMES.AUTH, token: this.getToken()" in socket_js


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_inline_code(path: Path) -> None:
    """No inline scripts, event-handler attributes, style attributes or |safe in templates."""
    text = path.read_text()
    for match in re.finditer(r"<script\b([^>]*)>", text):
        attrs = match.group(1)
        assert 'type="application/json"' in attrs or "src=" in attrs, match.group(0)
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\sstyle\s*=", text), "inline style (blocked by CSP)"
    assert "|safe" not in text.replace(" ", "")
    assert "javascript:" not in text


def test_testids_documented_in_readme() -> None:
    """Every data-testid the UI uses is listed in frontend/README.md for the browser tests."""
    readme = (SRC.parents[1] / "README.md").read_text()
    used: set[str] = set()
    for path in TEMPLATES:
        used |= set(re.findall(r'data-testid="([a-z0-9-]+)"', path.read_text()))
    for path in JS_FILES:
        used |= set(re.findall(r'testid: "([a-z0-9-]+)"', path.read_text()))
    missing = sorted(t for t in used if f"`{t}`" not in readme)
    assert not missing, f"undocumented data-testid: {missing}"


@pytest.mark.parametrize("page", ["login", "register", "profile", "chat"])
def test_page_scripts_find_their_elements(page: str) -> None:
    """Every `$("id")` a page module looks up exists as an id in that page's template."""
    template = (SRC / "templates" / f"{page}.html").read_text()
    ids = set(re.findall(r'\sid="([a-z0-9-]+)"', template))
    script = (SRC / f"static/js/pages/{page}.js").read_text()
    wanted = set(re.findall(r'\$\("([a-z0-9-]+)"\)', script))
    assert wanted - ids == set()


EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+(\w+)", re.M)
# `import { a, b as c } from "..."` and, in the browser tests, `const { a } = await import(...)`.
IMPORTED = re.compile(r"import\s*\{([^{}]*)\}|\{([^{}]*)\}\s*=\s*await\s+import\(", re.S)
TESTS = sorted(Path(__file__).parent.glob("*.py"))


def _all_js() -> str:
    return "\n".join(p.read_text() for p in JS_FILES)


def test_every_export_is_imported_somewhere() -> None:
    """No dead exports: each name a module exports is imported by another module or a test."""
    imported: set[str] = set()
    for text in [*(p.read_text() for p in JS_FILES), *(p.read_text() for p in TESTS)]:
        for match in IMPORTED.finditer(text):
            names = (match.group(1) or match.group(2)).split(",")
            imported |= {n.split(" as ")[0].split(":")[0].strip() for n in names}
    # protocol.js is generated: the contracts' whole surface (frames, codes, limits), kept in
    # step by libs/chat-contracts/tests/test_jsgen.py, whether or not a module uses each part.
    generated = {"protocol.js"}
    exported = {
        (p.name, n)
        for p in JS_FILES
        if p.name not in generated
        for n in EXPORT.findall(p.read_text())
    }
    assert sorted((f, n) for f, n in exported if n not in imported) == []


def test_every_api_method_is_called() -> None:
    """No dead API calls: each method of api.js's `api` object is called as `api.<name>`."""
    api_js = (SRC / "static/js/api.js").read_text()
    block = re.search(r"^export const api = \{(.*?)^\};", api_js, re.S | re.M)
    assert block
    methods = re.findall(r"^  (\w+):", block.group(1), re.M)
    assert "rooms" in methods
    code = _all_js()
    assert [m for m in methods if not re.search(rf"\bapi\.{m}\b", code)] == []


def test_every_instance_field_is_read() -> None:
    """No write-only fields: each `this.x = ...` in a module is read as `.x` somewhere."""
    code = _all_js()
    unread = [
        (path.name, name)
        for path in JS_FILES
        for name in sorted(set(re.findall(r"\bthis\.(\w+)\s*=(?!=)", path.read_text())))
        if not re.search(rf"\.{name}\b(?!\s*=(?!=))", code)
    ]
    assert unread == []
