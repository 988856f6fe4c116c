"""Issue 20, "Done when": the operator follows docs/operator.md from a checkout to a staff
member doing every staff job, with nothing but the docs' commands and a browser's requests.

Production settings from the environment (DEBUG=0), `manage.py check --deploy`, migrate and
collectstatic on a fresh database, `createsuperuser --noinput`, gunicorn with the shipped
gunicorn.conf.py in the documented plain-HTTP trial, the first staff login, `manage.py
staff_login` with its invitation through a real SMTP server, then that staff-group member (not
a superuser) does each job of the docs' staff list over HTTP. Before issue 20 the docs named no
first login, no staff command, and the member got 403 on API tokens and task results.
"""

from __future__ import annotations

import re

from cryptography.fernet import Fernet

from tests.admin_world import order_body
from tests.served import TRIAL, Browser, gunicorn, manage, production_env
from tests.smtp import SmtpServer
from tests.test_issue20_staff_jobs import staff_jobs_in_docs

SUPERUSER, SUPER_PASSWORD = "ana", "Ana-First-Login-6621"
STAFF, STAFF_PASSWORD = "rosa", "Rosa-Staff-Login-3308"
PUBLISHER_LOGIN = "quill"


def invitation_link(smtp: SmtpServer, to: str) -> str:
    """Return the set-password link of the last message to `to`."""
    [message] = [m for m in smtp.inbox.messages if m["To"] == to][-1:]
    text = message.get_body(preferencelist=("plain",)).get_content()
    [link] = [u for u in re.findall(r"https?://\S+", text) if "/reset/" in u]
    return link


def set_password(browser: Browser, link: str, password: str) -> None:
    """Follow the invitation link as its reader and choose `password`."""
    first = browser.get(link)
    assert first.status == 302, first.status
    form = browser.get(first.location)
    assert form.status == 200 and "new_password1" in form.text
    done = browser.post(first.location, {"new_password1": password, "new_password2": password})
    assert done.location == "/reset/done/", done.text[:500]


def pk_from(location: str) -> str:
    [pk] = re.findall(r"/(\d+)/change/", location)
    return pk


def test_the_operator_deploys_from_the_docs_and_a_staff_member_does_every_staff_job(tmp_path):
    jobs_done: set[str] = set()
    production = production_env(
        tmp_path,
        ALLOWED_HOSTS="fulfillment.trepstar.example",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )

    # 1. `check --deploy` passes on the production environment, with no warning.
    checked = manage(production, "check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "AXES: BEGIN" not in checked.stdout + checked.stderr

    with SmtpServer() as smtp:
        # 2. The plain-HTTP trial on loopback: migrate, collectstatic, the first staff login.
        env = production | TRIAL | {"ALLOWED_HOSTS": "127.0.0.1", "EMAIL_URL": smtp.url}
        for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            done = manage(env, *step, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
        made = manage(
            env | {"DJANGO_SUPERUSER_PASSWORD": SUPER_PASSWORD},
            "createsuperuser",
            "--noinput",
            "--username",
            SUPERUSER,
            "--email",
            "ana@trepstar.example",
        )
        assert made.returncode == 0, made.stderr

        with gunicorn(env, tmp_path / "gunicorn.log") as base:
            env = env | {"PUBLIC_BASE_URL": base}
            first = Browser(base)
            assert first.get("/admin/").location.startswith("/admin/login/")  # not https
            assert first.log_in(SUPERUSER, SUPER_PASSWORD).location == "/admin/"
            assert first.get("/admin/").status == 200

            # 3. A staff member who is not a superuser: staff_login and its invitation.
            invited = manage(env, "staff_login", STAFF, "--email", "rosa@trepstar.example")
            assert invited.returncode == 0, invited.stderr
            staff = Browser(base)
            set_password(staff, invitation_link(smtp, "rosa@trepstar.example"), STAFF_PASSWORD)
            assert staff.log_in(STAFF, STAFF_PASSWORD).location == "/admin/"
            assert "Users" not in staff.get("/admin/").text  # no user admin, no superuser

            # 4. The staff jobs of docs/operator.md, one by one.
            added = staff.submit(
                "/admin/fulfillment/publisher/add/",
                name="Quill Press",
                email="quill@example.com",
                _continue="1",
            )
            assert added.status == 302, added.text[:1000]
            publisher = pk_from(added.location)
            publisher_page = f"/admin/fulfillment/publisher/{publisher}/change/"
            login = staff.post(
                f"/admin/fulfillment/publisher/{publisher}/login/",
                {"username": PUBLISHER_LOGIN, "email": "ines@example.com", "role": "manager"},
            )
            assert login.status == 302, login.text[:1000]
            assert invitation_link(smtp, "ines@example.com").startswith(base + "/reset/")
            jobs_done.add("Publishers")

            grouped = staff.submit(publisher_page, grouping_minutes="0")
            assert grouped.status == 302, grouped.text[:1000]
            jobs_done.add("Grouping")

            deposit = staff.submit(
                f"/admin/fulfillment/publisher/{publisher}/balance/",
                kind="deposit",
                amount="100.00",
                note="Wire 1",
            )
            assert deposit.status == 302
            assert "$100.00" in staff.get(publisher_page).text
            jobs_done.add("Deposits")

            project = staff.submit(
                "/admin/fulfillment/project/add/",
                publisher=publisher,
                title="Almanac",
                ecommerce_id_string="279813",
                unit_cost="6.50",
                shipping_cost="4.95",
                prices_confirmed="on",
                is_active="on",
            )
            assert project.status == 302, project.text[:2000]
            jobs_done.add("Prices")

            # A sale arrives at the Notify URL shown on the publisher's page.
            [notify] = re.findall(
                r"/samcart/notify/\?idpub=\d+&amp;key=[\w-]+", staff.get(publisher_page).text
            )
            notify = notify.replace("&amp;", "&")
            samcart = Browser(base)
            assert "ready for SamCart" in samcart.get(notify).text
            sale = samcart.send(notify, order_body(order_id="70000001"), "application/json")
            assert sale.status == 200, sale.text
            orders = staff.get("/admin/fulfillment/order/?status__exact=in_production")
            [order] = re.findall(r"/admin/fulfillment/order/(\d+)/change/", orders.text)[:1]

            staff.post(
                "/admin/fulfillment/order/",
                {"action": "ship_orders", "_selected_action": [order], "index": "0"},
            )
            shipped = staff.post(
                "/admin/fulfillment/order/ship/",
                {"order": [order], f"tracking_{order}": "1Z-WALK-1"},
            )
            assert shipped.status == 302
            assert "1Z-WALK-1" in staff.get(f"/admin/fulfillment/order/{order}/change/").text
            jobs_done.add("Shipping")

            failed = staff.get("/admin/fulfillment/alert/?delivery=failed")
            assert failed.status == 200
            jobs_done.add("Failed alerts")
            assert staff.get("/admin/fulfillment/samcartcheckrun/").status == 200
            jobs_done.add("SamCart checks")

            # The publisher's person mistypes the password until locked out; staff unlock.
            ines = Browser(base)
            for _ in range(5):
                ines.log_in(PUBLISHER_LOGIN, "wrong-password")
            set_password(ines, invitation_link(smtp, "ines@example.com"), "Ines-Pass-8842")
            assert ines.log_in(PUBLISHER_LOGIN, "Ines-Pass-8842").status != 302  # locked
            attempts = staff.get("/admin/axes/accessattempt/?locked_out=yes")
            assert PUBLISHER_LOGIN in attempts.text
            ids = re.findall(r'name="_selected_action" value="(\d+)"', attempts.text)
            unlocked = staff.post(
                "/admin/axes/accessattempt/",
                {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
            )
            assert unlocked.status == 302
            assert ines.log_in(PUBLISHER_LOGIN, "Ines-Pass-8842").location == "/admin/"
            jobs_done.add("Locked logins")

            token_page = staff.get("/admin/authtoken/tokenproxy/add/")
            [user_id] = re.findall(
                rf'<option value="(\d+)">{PUBLISHER_LOGIN}</option>', token_page.text
            )
            assert staff.submit("/admin/authtoken/tokenproxy/add/", user=user_id).status == 302
            [key] = set(
                re.findall(r"\b([0-9a-f]{40})\b", staff.get("/admin/authtoken/tokenproxy/").text)
            )
            api = Browser(base, headers={"Authorization": f"Token {key}"}).get("/api/v1/orders/")
            assert api.status == 200 and "70000001" in api.text
            jobs_done.add("API tokens")

            tasks = staff.get("/admin/django_tasks_database/dbtaskresult/")
            assert tasks.status == 200
            jobs_done.add("Task results")

    assert jobs_done == set(staff_jobs_in_docs())
