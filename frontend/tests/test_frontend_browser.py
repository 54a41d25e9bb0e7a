"""Real headless Chromium against the real frontend process: CSP holds, modules load."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

# Runs before any page script: records CSP violations the page could otherwise swallow.
CSP_RECORDER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


class Page:
    """A fresh context + page that records console errors, page errors and CSP violations."""

    def __init__(self, browser: Any, **context_args: Any) -> None:
        self.context = browser.new_context(**context_args)
        self.page = self.context.new_page()
        self.page.add_init_script(CSP_RECORDER)
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("window.__csp"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(chromium_browser) -> Iterator[Page]:
    p = Page(chromium_browser)
    try:
        yield p
    finally:
        p.close()


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_auth_pages_load_clean(frontend, page: Page, artifacts_dir: Path, path: str) -> None:
    """Login/register render their forms with no console errors and no CSP violations."""
    page.page.goto(frontend.url + path, wait_until="networkidle")
    form = "login-form" if path == "/login" else "register-form"
    assert page.page.get_by_test_id(form).is_visible()
    # The page module ran: it reads the JSON config block (CSP-safe runtime config).
    config = page.page.evaluate("import('/static/js/config.js').then((m) => ({...m.config}))")
    assert config["apiBase"] == "/api"
    assert config["wsUrl"] == "/ws"
    page.page.screenshot(path=str(artifacts_dir / f"frontend{path.replace('/', '-')}.png"))
    assert page.errors == []
    assert page.csp_violations() == []


def test_login_inline_validation_error(frontend, page: Page) -> None:
    """Submitting an empty login form shows an inline error instead of calling the API."""
    page.page.goto(frontend.url + "/login")
    page.page.get_by_test_id("login-submit").click()
    error = page.page.get_by_test_id("login-error")
    error.wait_for(state="visible")
    assert "username" in error.text_content().lower()
    assert page.errors == []


def test_csp_blocks_injected_inline_script(frontend, page: Page) -> None:
    """A script element injected into the DOM does not run: the CSP really is enforced."""
    page.page.goto(frontend.url + "/login", wait_until="networkidle")
    page.page.evaluate(
        """() => { const s = document.createElement('script');
                   s.textContent = 'window.__pwned = 1'; document.body.append(s); }"""
    )
    page.page.wait_for_function("window.__csp.length > 0")
    assert page.page.evaluate("window.__pwned") is None
    assert any("script-src" in v for v in page.csp_violations())


def test_ui_helper_renders_markup_as_text(frontend, page: Page) -> None:
    """ui.el() turns `<img onerror>` user text into a text node: no element, nothing runs."""
    page.page.goto(frontend.url + "/login", wait_until="networkidle")
    result = page.page.evaluate(
        """async () => {
          const { el } = await import('/static/js/ui.js');
          const payload = '<img src=x onerror="window.__xss=1">';
          const node = el('div', { testid: 'probe' }, payload);
          document.body.append(node);
          return { text: node.textContent, imgs: node.querySelectorAll('img').length };
        }"""
    )
    assert result == {"text": '<img src=x onerror="window.__xss=1">', "imgs": 0}
    assert page.page.evaluate("window.__xss") is None


def signed_out_api(route: Any) -> None:
    """POST /api/refresh as the API answers it with no cookie: 204 when optional, else 401."""
    if "optional=true" in route.request.url:
        route.fulfill(status=204)
    else:
        route.fulfill(status=401, json={"detail": "refresh token missing"})


@pytest.mark.parametrize("path", ["/", "/profile"])
def test_signed_out_visit_goes_to_login_with_a_clean_console(
    frontend, page: Page, path: str
) -> None:
    """With no refresh cookie the chat and profile pages send the user to /login, and the
    session probe (`?optional=true`, answered 204) logs no error on the way: no red 401."""
    probes: list[str] = []
    page.page.on("request", lambda r: probes.append(r.url) if "/api/" in r.url else None)
    page.page.route("**/api/refresh*", signed_out_api)
    page.page.goto(frontend.url + path)
    page.page.wait_for_url("**/login")
    page.page.wait_for_load_state("networkidle")
    assert page.errors == []
    assert probes == [frontend.url + "/api/refresh?optional=true"]
    assert page.csp_violations() == []


def test_phone_width_has_no_horizontal_scroll(frontend, chromium_browser, artifacts_dir) -> None:
    """At 390 px wide the auth pages fit the screen."""
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    p = Page(chromium_browser, **phone)
    try:
        for path in ("/login", "/register"):
            p.page.goto(frontend.url + path, wait_until="networkidle")
            overflow = p.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
        p.page.screenshot(path=str(artifacts_dir / "frontend-register-phone.png"))
    finally:
        p.close()
