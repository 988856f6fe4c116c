"""Issue 8, finding 8 (SPEC §16): a Content-Security-Policy on every HTML page, no inline script
to need it loosened, `Cache-Control: no-store` where the key shows, and the API schema and docs
behind a login.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.admin_world import World, notify, order_body
from tests.browser import CHROMIUM, PASSWORD
from tests.factories import make_project, make_publisher, make_publisher_user
from tests.test_browser_admin import login as browser_login
from tests.test_browser_admin import site as site

pytestmark = pytest.mark.django_db

CSP = "Content-Security-Policy"


class InlineCode(HTMLParser):
    """Collect inline scripts and event-handler attributes, which a strict policy blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.style_nonces: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.style_nonces.append(names.get("nonce"))
        self.found += [f"{tag} {name}=" for name in names if name.startswith("on")]


def html_pages(w: World) -> dict[str, tuple[object, str]]:
    """Every kind of HTML page: (who asks, path)."""
    return {
        "login": (None, reverse("admin:login")),
        "admin index": (w.a_user, reverse("admin:index")),
        "order list": (w.a_user, reverse("admin:fulfillment_order_changelist")),
        "order page": (w.a_user, reverse("admin:fulfillment_order_change", args=[w.a_hold.pk])),
        "project add": (w.a_user, reverse("admin:fulfillment_project_add")),
        "notification list": (w.a_user, reverse("admin:fulfillment_notification_changelist")),
        "notification page": (
            w.a_user,
            reverse("admin:fulfillment_notification_change", args=[w.a_no_match.pk]),
        ),
        "password change": (w.a_user, reverse("admin:password_change")),
        "account": (w.a_user, reverse("account")),
        "account (staff picker)": (w.staff, reverse("account")),
        "account (staff view)": (w.staff, f"{reverse('account')}?publisher={w.b.idpub}"),
        "publisher page (staff)": (
            w.staff,
            reverse("admin:fulfillment_publisher_change", args=[w.b.pk]),
        ),
        "API docs": (w.a_user, reverse("api-docs")),
        "browsable API": (w.a_user, reverse("api-orders")),
        "not found": (w.a_user, "/admin/fulfillment/order/999999999/change/"),
    }


def get(user, path: str):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(path, HTTP_ACCEPT="text/html", follow=True)


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def test_every_html_page_has_a_strict_policy_and_no_inline_script(world):
    for name, (user, path) in html_pages(world).items():
        response = get(user, path)
        assert response["Content-Type"].startswith("text/html"), name
        assert CSP in response, f"{name}: no {CSP}"
        policy = directives(response[CSP])
        assert policy["default-src"] == ["'self'"], name
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        if name == "API docs":
            continue  # the one page widened for Swagger UI's CDN (checked below)
        assert policy["script-src"] == ["'self'"], name
        assert "'unsafe-inline'" not in policy["style-src"], name
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.found == [], f"{name}: {parser.found} would be blocked"
        nonces = set(parser.style_nonces)
        allowed = {s.removeprefix("'nonce-").removesuffix("'") for s in policy["style-src"]}
        assert nonces <= allowed, f"{name}: a <style> without this response's nonce"


def test_each_response_gets_its_own_nonce(world, a_client):
    first = a_client.get(reverse("account"))[CSP]
    second = a_client.get(reverse("account"))[CSP]
    nonce = re.compile(r"'nonce-([^']+)'")
    assert nonce.search(first) and nonce.search(second)
    assert nonce.search(first).group(1) != nonce.search(second).group(1)


def test_the_docs_page_loads_swagger_from_our_own_static_files(world, a_client):
    page = a_client.get(reverse("api-docs"))
    docs = directives(page[CSP])
    assert docs["script-src"] == ["'self'"]  # no CDN, and its start-up script is a file
    assert "'unsafe-inline'" in docs["style-src"]  # Swagger UI's style attributes, this page only
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html and "https://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = a_client.get(reverse("api-docs"), {"script": ""})
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
    account = directives(a_client.get(reverse("account"))[CSP])
    assert "'unsafe-inline'" not in account["style-src"]


def test_the_account_page_is_never_stored_by_a_cache(world, a_client):
    response = a_client.get(reverse("account"))
    assert world.a.notify_key in response.content.decode()
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= cache_control


def test_schema_and_docs_need_a_login(world):
    anonymous = Client()
    assert anonymous.get(reverse("api-schema")).status_code in (401, 403)
    docs = anonymous.get(reverse("api-docs"))
    assert docs.status_code in (302, 401, 403)
    if docs.status_code == 302:
        assert docs["Location"].startswith(reverse("admin:login"))
    assert anonymous.get(reverse("api-docs"), {"script": ""}).status_code in (302, 401, 403)


def test_schema_is_served_to_a_login_with_a_token(world):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=world.a_user)
    response = Client().get(reverse("api-schema"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert b"/api/v1/orders/" in response.content


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's /usr/bin/chromium")
def test_chromium_reports_no_policy_violation_on_the_admin_and_account_pages(browser, site):
    """The policy is enforced by a real browser: no page of ours trips it."""
    publisher = make_publisher(name="Strict Press")
    make_project(publisher, "279813", title="Strict Almanac")
    hold = notify(publisher, order_body(order_id="55550001")).orders.get()
    make_publisher_user(publisher, "strict", PASSWORD)
    violations: list[str] = []
    page = browser_login(browser, site, "strict")
    page.on(
        "console",
        lambda m: (
            violations.append(f"{page.url}: {m.text}") if "Security Policy" in m.text else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(f"{page.url}: {error}"))
    for path in (
        "/admin/",
        "/admin/fulfillment/order/",
        f"/admin/fulfillment/order/{hold.pk}/change/",
        "/admin/fulfillment/project/add/",
        "/admin/fulfillment/notification/",
        "/account/",
        "/api/v1/orders/",
    ):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("load")
    page.goto("/account/")
    page.click("#copy-notify-url")
    page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
    page.context.close()
    assert violations == []
