"""What every browser test module shares: Debian's Chromium, launched once per module.

tests/conftest.py loads this module as a plugin, so the `browser` fixture is everywhere; a test
module sets `pytestmark = BROWSER_MARKS` (imported from here).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "pw-12345-x"
LAPTOP = {"width": 1366, "height": 768}
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def browser():
    """Launch Chromium for one test module and close it after.

    Playwright's sync API runs an event loop in this thread; the ORM calls of these tests are
    still plain synchronous calls made between browser steps, so Django's async-safety check is
    lifted for the module only.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def login(browser, base_url: str, username: str, *, viewport: dict | None = None):
    """Open a fresh browser context and log `username` in through the admin login form."""
    context = browser.new_context(base_url=base_url, viewport=viewport or LAPTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def save_shot(target, path: Path, **options: object) -> bool:
    """Save a screenshot of `target` (a page or a locator) for people to look at; True if saved.

    A screenshot is an artifact, never an assertion: Chromium's capture now and then fails
    with "Unable to capture screenshot" (seen once in CI). One more try, then the test goes on
    without the picture.
    """
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(2):
        try:
            target.screenshot(path=str(path), **options)
            return True
        except PlaywrightError as error:
            if "screenshot" not in str(error).lower():
                raise
    return False
