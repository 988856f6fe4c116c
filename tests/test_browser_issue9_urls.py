"""Issue 9 in a real Chromium: API docs with no other host reachable, the Notify URL box and its
Copy button on a random port, the Notify URL page a browser gets, the favicon.

Screenshots (1366 x 768) go to test-artifacts/screenshots/ (gitignored).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from tests.browser import BROWSER_MARKS, LAPTOP, PASSWORD, save_shot
from tests.factories import make_project, make_publisher, make_publisher_user, make_staff_user

sync_api = pytest.importorskip("playwright.sync_api")
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
VIEWPORT = LAPTOP
# The Notify URL box's font, its inner height, and how tall "Hg_|" is drawn in that font.
BOX_METRICS = """el => {
  const css = getComputedStyle(el);
  const canvas = document.createElement("canvas").getContext("2d");
  canvas.font = css.font;
  const m = canvas.measureText("Hg_|");
  return {
    font: css.fontFamily, size: parseFloat(css.fontSize),
    client: el.clientHeight, scroll: el.scrollHeight,
    padding: parseFloat(css.paddingTop) + parseFloat(css.paddingBottom),
    glyphs: m.actualBoundingBoxAscent + m.actualBoundingBoxDescent,
  };
}"""

pytestmark = BROWSER_MARKS


@pytest.fixture
def site(live_server, settings):
    """The live server, with PUBLIC_BASE_URL unset as under `make run`."""
    settings.PUBLIC_BASE_URL = ""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return live_server.url


class Offline:
    """Block every request to a host other than the live server; remember them and CSP errors."""

    def __init__(self, page, base: str) -> None:
        self.base = urllib.parse.urlsplit(base).netloc
        self.blocked: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("console", self._console)

    def _route(self, route) -> None:
        if urllib.parse.urlsplit(route.request.url).netloc == self.base:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def login(browser, base_url: str, username: str):
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    offline = Offline(page, base_url)
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page, offline


def test_api_docs_render_with_every_other_host_blocked(browser, site):
    staff = make_staff_user(password=PASSWORD)
    page, offline = login(browser, site, staff.username)

    page.goto("/api/docs/")
    page.wait_for_selector(".opblock-summary", state="visible")
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    save_shot(page, SHOTS / "issue9-api-docs.png")

    assert any("/api/v1/orders/" in text for text in operations), operations
    assert offline.blocked == []
    assert not [e for e in offline.errors if "Content Security Policy" in e], offline.errors
    icon = page.evaluate("document.querySelector('link[rel~=icon]').href")
    assert urllib.parse.urlsplit(icon).netloc == urllib.parse.urlsplit(site).netloc


def test_notify_url_box_is_monospace_unclipped_and_copies_this_servers_url(browser, site):
    publisher = make_publisher(name="Lighthouse Press")
    make_project(publisher, "279813")
    user = make_publisher_user(publisher, password=PASSWORD)
    page, offline = login(browser, site, user.username)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)

    page.goto("/account/")
    box = page.locator("#notify-url")
    expected = f"{site}/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"
    assert box.input_value() == expected
    style = box.evaluate(BOX_METRICS)
    assert "monospace" in style["font"]
    assert style["client"] >= style["scroll"], style
    # Room for "_" under the baseline in any monospace font: the content box (inside the
    # padding) holds the glyphs' full extent with a margin, and at least 1.4 × the font size
    # (the old box had 16 px for a 13.6 px font and "_" reached its edge).
    content = style["client"] - style["padding"]
    assert content >= style["glyphs"] + 2, style
    assert content >= 1.4 * style["size"], style
    box.scroll_into_view_if_needed()
    save_shot(page, SHOTS / "issue9-notify-url-box.png")
    save_shot(box, SHOTS / "issue9-notify-url-box-only.png")

    page.click("#copy-notify-url")
    sync_api.expect(page.locator("#copy-status")).not_to_be_empty()
    assert page.evaluate("navigator.clipboard.readText()") == expected
    assert offline.blocked == []

    # What SamCart's operator sees when checking the copied URL in a browser.
    page.goto(expected)
    assert page.inner_text("#notify-state").endswith("Ready for SamCart")
    assert publisher.notify_key not in page.content()
    save_shot(page, SHOTS / "issue9-notify-url-page.png")
    assert not [e for e in offline.errors if "Content Security Policy" in e], offline.errors


def test_root_lands_in_the_admin_with_the_favicon(browser, site):
    user = make_publisher_user(make_publisher(), password=PASSWORD)
    page, offline = login(browser, site, user.username)

    page.goto("/")
    assert urllib.parse.urlsplit(page.url).path == "/admin/"
    icon = page.evaluate("document.querySelector('link[rel~=icon]').href")
    response = page.request.get(icon)
    assert response.ok
    assert response.headers["content-type"].startswith("image/svg+xml")
    favicon = page.request.get(f"{site}/favicon.ico")
    assert favicon.ok
    assert favicon.body().lstrip().startswith(b"<svg")
    assert offline.blocked == []
