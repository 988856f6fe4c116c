"""Issue 9, "look for more of the same kind": every admin page a publisher or staff member can
open shows no raw internal field name, no "None", no error, whatever the page.

The visible text of each page (tags, scripts and styles stripped) is checked for names such as
`ship_city` or `hold_reason` that a person should never read.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from fulfillment.services.lines import order_line_update
from fulfillment.services.orders import order_update
from tests.admin_world import World

pytestmark = pytest.mark.django_db
INTERNAL = re.compile(r"\b(ship|customer|external|hold|cart|notify|unit|is|prices)_[a-z_]+\b")
SKIPPED = ("script", "style", "template", "pre")
NONE = re.compile(r"(^|\s)None(?! available)(\s|$)")


class _Text(HTMLParser):
    """Collect the text a person sees (no tags, scripts, styles or attribute values).

    SamCart's own body (`<pre>`) is what SamCart sent and may hold its field names.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in SKIPPED:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def pages(world: World) -> list[str]:
    """Every changelist, add page and one change page per fulfillment model, and the rest."""
    urls = [reverse("admin:index"), reverse("account")]
    objects = {
        "order": world.a_hold.pk,
        "notification": world.a_no_match.pk,
        "project": world.a_project.pk,
        "publisher": world.a.pk,
    }
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label != "fulfillment":
            continue
        for name, args in (("changelist", []), ("add", [])):
            with contextlib.suppress(NoReverseMatch):
                urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_{name}", args=args))
        if meta.model_name in objects:
            urls.append(
                reverse(
                    f"admin:fulfillment_{meta.model_name}_change", args=[objects[meta.model_name]]
                )
            )
    urls.append(reverse("admin:fulfillment_publisher_balance", args=[world.a.pk]))
    return urls


@pytest.mark.parametrize("who", ["a_user", "staff"])
def test_no_page_shows_an_internal_name_or_none(world, who):
    # An edit leaves an event on the order page: it must read "Street: … → …", not "ship_street".
    order_update(order=world.a_hold, actor=world.a_user, ship_street="2 New Street")
    order_line_update(line=world.a_hold.lines.get(), quantity=2, actor=world.a_user)
    client = Client()
    client.force_login(getattr(world, who))
    checked = 0
    for url in pages(world):
        response = client.get(url)
        if response.status_code in (403, 404):  # not this login's page (checked elsewhere)
            continue
        assert response.status_code == 200, (url, response.status_code)
        text = visible_text(response.content.decode())
        assert not INTERNAL.findall(text), (url, INTERNAL.findall(text))
        assert not NONE.search(text), (url, NONE.search(text))
        checked += 1
    assert checked >= 8
