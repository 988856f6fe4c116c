"""Issue 20, point 15, in a real Chromium: a viewer sees the Notify URL with its key masked
(and no Copy button); a manager sees, and copies, the whole URL."""

from __future__ import annotations

import pytest

from fulfillment.services.publishers import KEY_MASK, KEY_MASKED_NOTE
from tests.browser import BROWSER_MARKS, PASSWORD, login
from tests.factories import make_publisher, make_publisher_user

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = BROWSER_MARKS


@pytest.fixture
def site(live_server, settings) -> str:
    """Make the account page print Notify URLs of the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server.url


def test_a_viewer_sees_the_key_masked_and_a_manager_sees_it_whole(browser, site):
    publisher = make_publisher(name="Harbour Press")
    make_publisher_user(publisher, "harbour-viewer", PASSWORD, role="viewer")
    make_publisher_user(publisher, "harbour-manager", PASSWORD, role="manager")
    whole = f"{site}/samcart/notify/?idpub={publisher.idpub}&key={publisher.notify_key}"

    viewer = login(browser, site, "harbour-viewer")
    viewer.goto("/account/")
    masked = viewer.input_value("#notify-url")
    assert masked == f"{whole.split('&key=')[0]}&key={KEY_MASK}{publisher.notify_key[-4:]}"
    assert publisher.notify_key not in viewer.content()  # before: the whole key
    expect(viewer.locator("#notify-key-masked")).to_have_text(KEY_MASKED_NOTE)
    expect(viewer.locator("#copy-notify-url")).to_have_count(0)
    viewer.context.close()

    manager = login(browser, site, "harbour-manager")
    manager.goto("/account/")
    assert manager.input_value("#notify-url") == whole
    expect(manager.locator("#copy-notify-url")).to_be_visible()
    expect(manager.locator("#notify-key-masked")).to_have_count(0)
    manager.context.close()
