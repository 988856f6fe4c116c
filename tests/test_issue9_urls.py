"""Issue 9, points 1, 2, 17, 18, 20: URLs that work, offline API docs, the Notify URL in a
browser, the site's front door, and Notify keys people can read.

Real parts only: the test client, the live server, `make run` itself on a free port.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from fulfillment.models import Notification, Publisher, new_notify_key
from fulfillment.services.publishers import notify_url
from tests.factories import make_project, make_publisher, make_publisher_user, make_staff_user

ROOT = Path(__file__).resolve().parent.parent
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
LOOK_ALIKES = set("_-Il1O0")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _notify_get(client: Client, publisher: Publisher, *, key: str | None = None, **headers):
    query = urllib.parse.urlencode(
        {"idpub": publisher.idpub, "key": publisher.notify_key if key is None else key}
    )
    return client.get(f"{reverse('samcart-notify')}?{query}", **headers)


# Point 1: Notify URLs that work on any port ----------------------------------------------------


@pytest.mark.django_db
def test_account_page_builds_the_notify_url_from_the_address_the_browser_used(settings):
    settings.PUBLIC_BASE_URL = ""
    publisher = make_publisher()
    client = Client()
    client.force_login(make_publisher_user(publisher))

    content = client.get(reverse("account"), HTTP_HOST="127.0.0.1:8765").content.decode()

    expected = f"http://127.0.0.1:8765/samcart/notify/?idpub={publisher.idpub}&amp;key="
    assert f'value="{expected}{publisher.notify_key}"' in content
    assert "127.0.0.1:8000" not in content


@pytest.mark.django_db
def test_admin_publisher_page_shows_the_notify_url_of_the_browsers_address(settings):
    settings.PUBLIC_BASE_URL = ""
    publisher = make_publisher()
    client = Client()
    client.force_login(make_staff_user())

    content = client.get(
        reverse("admin:fulfillment_publisher_change", args=[publisher.pk]),
        HTTP_HOST="127.0.0.1:8765",
    ).content.decode()

    assert f"http://127.0.0.1:8765/samcart/notify/?idpub={publisher.idpub}&amp;key=" in content
    assert "127.0.0.1:8000" not in content


@pytest.mark.django_db
def test_a_host_outside_allowed_hosts_is_refused_not_put_in_the_url(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    publisher = make_publisher()
    client = Client()
    client.force_login(make_publisher_user(publisher))

    response = client.get(reverse("account"), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert b"evil.example/samcart" not in response.content


@pytest.mark.django_db
def test_an_explicit_public_base_url_wins_over_the_request(settings):
    settings.PUBLIC_BASE_URL = "https://fulfillment.trepstar.example"
    publisher = make_publisher()
    client = Client()
    client.force_login(make_publisher_user(publisher))

    content = client.get(reverse("account"), HTTP_HOST="127.0.0.1:8765").content.decode()

    assert f"https://fulfillment.trepstar.example/samcart/notify/?idpub={publisher.idpub}" in (
        content
    )
    assert "127.0.0.1:8765/samcart" not in content


@pytest.mark.django_db(transaction=True)
def test_account_page_on_a_live_server_shows_that_port(live_server, settings):
    settings.PUBLIC_BASE_URL = ""
    publisher = make_publisher()
    user = make_publisher_user(publisher, password="pw-12345-x")
    opener = _login(live_server.url, user.username, "pw-12345-x")

    with opener.open(f"{live_server.url}/account/", timeout=10) as response:
        content = response.read().decode()

    port = urllib.parse.urlsplit(live_server.url).port
    assert port != 8000
    assert f"{live_server.url}/samcart/notify/?idpub={publisher.idpub}&amp;key=" in content
    # The URL on the page works as it is: its GET check says ready.
    url = notify_url(publisher=publisher, request=None, base_url=live_server.url)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert json.loads(response.read())["outcome"] == "ready"


def test_makefile_passes_port_to_printed_urls_and_leaves_pages_to_the_request():
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8765"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in {"PUBLIC_BASE_URL", "PORT"}},
    ).stdout
    demo = next(line for line in out.splitlines() if "manage.py demo_data" in line)
    server = next(line for line in out.splitlines() if "manage.py runserver" in line)
    assert "PUBLIC_BASE_URL=http://127.0.0.1:8765 " in demo
    assert "runserver 127.0.0.1:8765" in server
    assert "PUBLIC_BASE_URL= " in server  # unset: pages use the browser's address

    given = subprocess.run(
        ["make", "-n", "run", "PORT=8765"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PUBLIC_BASE_URL": "https://fulfillment.trepstar.example"},
    ).stdout
    # migrate, demo_data, the worker (its e-mail links) and the server
    assert given.count("PUBLIC_BASE_URL=https://fulfillment.trepstar.example ") == 4


@pytest.mark.django_db
def test_demo_data_prints_urls_with_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8765"
    out = io.StringIO()
    call_command("demo_data", stdout=out)
    urls = re.findall(r"Notify URL: (\S+)", out.getvalue())
    assert len(urls) >= 2
    assert all(url.startswith("http://127.0.0.1:8765/samcart/notify/?idpub=") for url in urls)


def test_make_run_on_another_port_hands_out_working_urls(tmp_path):
    """`PORT=<free> make run` for real (own SQLite file): printed and shown URLs use that port."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"PUBLIC_BASE_URL", "DEBUG"}}
    env.update(
        PORT=str(port),
        SAMCART_PORT=str(_free_port()),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = tmp_path / "make-run.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz", server, log)
        printed = re.findall(r"Notify URL: (\S+)", log.read_text())
        assert printed, log.read_text()
        assert all(url.startswith(f"{base}/samcart/notify/?") for url in printed)
        # The printed URL works against this server.
        with urllib.request.urlopen(printed[0], timeout=10) as response:
            assert json.loads(response.read())["outcome"] == "ready"
        # The account page, opened as localhost, hands out localhost URLs on this port.
        opener = _login(f"http://localhost:{port}", "lighthouse", "lighthouse-demo")
        with opener.open(f"http://localhost:{port}/account/", timeout=10) as response:
            page = response.read().decode()
        shown = re.search(r'id="notify-url" value="([^"]+)"', page)
        assert shown is not None
        url = shown.group(1).replace("&amp;", "&")
        assert url.startswith(f"http://localhost:{port}/samcart/notify/?idpub=")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert json.loads(response.read())["outcome"] == "ready"
        _demo_check_finds_the_lost_sale(opener, f"http://localhost:{port}", page)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def _demo_check_finds_the_lost_sale(
    opener: urllib.request.OpenerDirector, base: str, page: str
) -> None:
    """The demo's SamCart check (issue 18): make run's worker checks against make run's
    stand-in (its first scheduled run, and *Check now* pressed here) and the card lists the one
    demo sale that never arrived, waiting for review."""
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    idpub = re.search(r'name="publisher" value="(\d+)"', page)
    assert token is not None and idpub is not None and 'id="check-now"' in page
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "publisher": idpub.group(1)}
    ).encode()
    request = urllib.request.Request(
        f"{base}/account/samcart-check/", data=data, headers={"Referer": f"{base}/account/"}
    )
    with opener.open(request, timeout=10) as response:
        assert response.status == 200
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with opener.open(f"{base}/account/", timeout=10) as response:
            card = response.read().decode()
        listed = card.split('id="samcart-review"')[1] if 'id="samcart-review"' in card else ""
        review = listed.split("</ul>")[0]
        if "SamCart order 9100003" in review:
            break
        time.sleep(1)
    else:
        pytest.fail(f"the demo check did not find SamCart order 9100003:\n{card}")
    assert "9100001" not in review and "9100002" not in review  # those two arrived


def _wait_for(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"make run stopped:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"make run did not answer:\n{log.read_text()}")


def _login(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    """Log in through the admin's login form over real HTTP; return an opener with the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/admin/login/", timeout=10) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": password,
            "next": "/admin/",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/admin/login/", data=data, headers={"Referer": f"{base}/admin/login/"}
    )
    with opener.open(request, timeout=10) as response:
        assert urllib.parse.urlsplit(response.url).path == "/admin/"
    return opener


# Point 2: API docs from our own static files ---------------------------------------------------


@pytest.mark.django_db
def test_api_docs_reference_no_external_host_and_their_files_exist():
    client = Client()
    client.force_login(make_staff_user())

    response = client.get(reverse("api-docs"))
    html = response.content.decode()

    assert response.status_code == 200
    assert "cdn.jsdelivr.net" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
    assets = re.findall(r"""(?:src|href)=["']?(/static/[^"' >]+)""", html)
    assert any("swagger-ui-bundle" in asset for asset in assets), html
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    csp = response["Content-Security-Policy"]
    assert "cdn.jsdelivr.net" not in csp
    assert "http" not in csp  # no other host at all


# Point 17: the Notify URL in a browser, JSON in real UTF-8 ------------------------------------


@pytest.mark.django_db
def test_notify_url_opened_in_a_browser_gets_a_page_that_stores_nothing():
    publisher = make_publisher()
    before = Notification.objects.count()

    response = _notify_get(Client(), publisher, HTTP_ACCEPT=BROWSER_ACCEPT)
    html = response.content.decode()

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]
    assert "Accept" in response["Vary"]
    assert "Ready for SamCart" in html
    assert "Settings → Integrations" in html
    assert publisher.notify_key not in html
    assert Notification.objects.count() == before
    # CSP-clean: no inline script, the one inline style carries this response's nonce.
    assert "<script" not in html
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert nonce is not None
    assert f'<style nonce="{nonce.group(1)}">' in html
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html)


@pytest.mark.django_db
def test_wrong_key_page_says_so_without_echoing_the_key_and_is_throttled():
    publisher = make_publisher()
    wrong = "WrongKey-but-long-enough-123"

    response = _notify_get(Client(), publisher, key=wrong, HTTP_ACCEPT=BROWSER_ACCEPT)
    html = response.content.decode()
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert "Not usable" in html
    assert wrong not in html
    assert publisher.notify_key not in html

    statuses = [
        _notify_get(Client(), publisher, key=wrong, HTTP_ACCEPT=BROWSER_ACCEPT).status_code
        for _ in range(12)
    ]
    assert statuses[-1] == 429
    limited = _notify_get(Client(), publisher, key=wrong, HTTP_ACCEPT=BROWSER_ACCEPT)
    assert limited["Retry-After"]
    assert limited["Content-Type"].startswith("text/html")
    assert Notification.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["*/*", "application/json", "", "text/html, application/json"])
def test_clients_get_json_with_real_utf8(accept):
    publisher = make_publisher()
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = _notify_get(Client(), publisher, **headers)

    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "→".encode() in response.content
    assert b"\\u2192" not in response.content
    assert json.loads(response.content.decode("utf-8"))["outcome"] == "ready"


@pytest.mark.django_db
def test_samcart_like_post_still_gets_json_in_utf8(settings):
    publisher = make_publisher(balance="50.00")
    body = json.dumps(
        {"type": "Order", "products": [{"id": 999001, "quantity": 1}], "order": {"id": 77}}
    )
    query = urllib.parse.urlencode({"idpub": publisher.idpub, "key": publisher.notify_key})

    response = Client().post(
        f"{reverse('samcart-notify')}?{query}",
        data=body,
        content_type="application/json",
        HTTP_ACCEPT=BROWSER_ACCEPT,  # even a browser-like Accept: a POST is SamCart's
    )

    assert response["Content-Type"] == "application/json; charset=utf-8"
    answer = json.loads(response.content.decode("utf-8"))
    assert answer["outcome"] == "no_match"
    assert "→".encode() in response.content
    assert b"\\u2192" not in response.content


@pytest.mark.django_db(transaction=True)
def test_samcart_send_prints_real_characters(live_server):
    publisher = make_publisher(balance="50.00")
    make_project(publisher, "279813")
    out = io.StringIO()

    call_command(
        "samcart_send",
        idpub=publisher.idpub,
        base_url=live_server.url,
        product=["999001"],
        stdout=out,
    )

    printed = out.getvalue()
    assert printed.startswith("200 ")
    assert "→" in printed
    assert "\\u2192" not in printed
    assert json.loads(printed.split(" ", 1)[1])["outcome"] == "no_match"


# Point 18: the front door, the API root, the icon ---------------------------------------------


@pytest.mark.django_db
def test_root_redirects_to_the_admin_and_publishers_land_in_its_index():
    anonymous = Client().get("/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/admin/"

    client = Client()
    client.force_login(make_publisher_user(make_publisher()))
    landed = client.get("/", follow=True)
    assert landed.status_code == 200
    assert landed.redirect_chain == [("/admin/", 302)]
    assert landed.resolver_match.view_name == "admin:index"


@pytest.mark.django_db
def test_api_root_lists_orders_projects_notifications_after_a_login():
    assert Client().get("/api/v1/", HTTP_ACCEPT="application/json").status_code in (401, 403)

    client = Client()
    client.force_login(make_publisher_user(make_publisher()))
    links = client.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert links["orders"] == "http://testserver/api/v1/orders/"
    assert links["projects"] == "http://testserver/api/v1/projects/"
    assert links["notifications"] == "http://testserver/api/v1/notifications/"
    for url in (links["orders"], links["projects"], links["notifications"]):
        assert client.get(url, HTTP_ACCEPT="application/json").status_code == 200

    page = client.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert 'href="http://testserver/api/v1/orders/"' in page.content.decode()


@pytest.mark.django_db
def test_favicon_answers_an_icon_and_admin_pages_link_it():
    response = Client().get("/favicon.ico", follow=True)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.lstrip().startswith(b"<svg")

    login_page = Client().get(reverse("admin:login")).content.decode()
    assert '<link rel="icon" href="/static/fulfillment/favicon.svg"' in login_page


# Point 20: keys people can read ----------------------------------------------------------------


def test_new_keys_have_no_look_alike_characters_and_enough_entropy():
    keys = [new_notify_key() for _ in range(3000)]
    seen = set("".join(keys))
    assert not seen & LOOK_ALIKES
    assert len(set(keys)) == len(keys)
    assert all(key.isalnum() and key.isascii() for key in keys)
    # At least the 192 random bits of the old keys (secrets.token_urlsafe(24)).
    length = {len(key) for key in keys}
    assert len(length) == 1
    assert length.pop() * math.log2(len(seen)) >= 192


@pytest.mark.django_db
def test_existing_keys_with_old_characters_keep_working():
    publisher = make_publisher()
    old_key = "Il1O0_-abcdefghijklmnopqrstuvwxyzABCD"  # shaped like token_urlsafe(24)
    Publisher.objects.filter(pk=publisher.pk).update(notify_key=old_key)
    publisher.refresh_from_db()

    response = _notify_get(Client(), publisher, key=old_key, HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["outcome"] == "ready"
