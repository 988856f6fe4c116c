"""Issue 9 (publisher experience), account and project side: how to add funds, why *release
all* is not offered, reprocess offered after an eCommerceIDString fix, the bundle warning on
the form.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from fulfillment.models import Order, OrderStatus, Outcome, Project, Publisher
from fulfillment.services.accounts import VIEWER_GROUP
from fulfillment.services.deposits import deposit_record
from fulfillment.services.wording import QUEUE_RULE
from tests.admin_world import notify, order_body
from tests.factories import make_project, make_publisher_user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-12345-x"


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def account(client: Client) -> str:
    return client.get(reverse("account")).content.decode()


# 13. The account page says how to add funds and why release all is not there --------------


def test_a_short_balance_is_told_how_to_add_funds(world, a_client, settings):
    settings.SUPPORT_EMAIL = "billing@trepstar.example"
    content = account(a_client)
    assert "billing@trepstar.example" in content
    assert f"publisher ID {world.a.idpub}" in content
    assert 'id="add-funds"' in content


def test_a_balance_that_covers_the_hold_orders_needs_no_funds_hint(world, a_client):
    deposit_record(publisher=world.a, amount=Decimal("50.00"), actor=None)
    content = account(a_client)
    assert 'id="add-funds"' not in content
    assert 'id="release-all"' in content
    assert escape(QUEUE_RULE) in content  # the one queue rule, said where the button is


def test_release_all_is_never_missing_without_a_word(world, a_client):
    content = account(a_client)  # $1.00, one $7.00 order waiting for payment
    assert 'id="release-all"' not in content
    assert "covers none of your 1 order waiting for payment ($7.00); add $6.00" in content

    Order.objects.filter(publisher=world.a).update(status=OrderStatus.DELETED, hold_reason="")
    assert "No orders on hold." in account(a_client)


def test_a_viewer_is_told_why_there_is_no_release_button(world):
    deposit_record(publisher=world.a, amount=Decimal("50.00"), actor=None)
    viewer = make_publisher_user(world.a, "alpha-viewer", PASSWORD)
    viewer.groups.set([Group.objects.get(name=VIEWER_GROUP)])
    client = Client()
    client.force_login(viewer)
    content = account(client)
    assert 'id="release-all"' not in content
    assert "may not release orders; ask a manager" in content


def test_hold_orders_that_wait_for_an_address_are_not_a_money_problem(world, a_client):
    Order.objects.filter(pk=world.a_hold.pk).update(hold_reason="address_incomplete")
    deposit_record(publisher=world.a, amount=Decimal("50.00"), actor=None)
    content = account(a_client)
    assert "waits only for money" in content
    assert 'id="release-all"' not in content


# 14. Reprocess offered after an eCommerceIDString fix, and on the account page -----------


def test_fixing_an_id_offers_to_reprocess_the_notifications_that_named_it(world, a_client):
    second = notify(world.a, order_body(order_id="11110077", product_id="555555"))
    assert second.outcome == Outcome.NO_MATCH
    project = Project.objects.get(publisher=world.a, title="Alpha Workbook")
    url = reverse("admin:fulfillment_project_change", args=[project.pk])
    data = {"title": project.title, "ecommerce_id_string": "{294010}{555555}", "is_active": "on"}

    response = a_client.post(url, data, follow=True)

    offer = " ".join(texts(response))
    assert "2 notifications named SamCart product ID 555555" in offer
    assert "reprocess them now?" in offer
    page = a_client.get(
        reverse("admin:fulfillment_notification_reprocess_named"),
        {"ids": f"{world.a_no_match.pk},{second.pk},{world.b_no_match.pk}"},
    )
    listed = page.content.decode()
    assert f"Notification #{world.a_no_match.pk}" in listed
    assert f"Notification #{second.pk}" in listed
    assert f"Notification #{world.b_no_match.pk}" not in listed  # another publisher's: never

    done = a_client.post(
        reverse("admin:fulfillment_notification_changelist"),
        {"action": "reprocess", "index": 0, "_selected_action": [world.a_no_match.pk, second.pk]},
        follow=True,
    )
    assert done.status_code == 200
    made = Order.objects.filter(publisher=world.a, lines__external_product_id="555555")
    assert sorted(made.values_list("external_order_id", flat=True)) == ["11110002", "11110077"]


def test_no_offer_when_nothing_named_the_ids(world, a_client):
    project = Project.objects.get(publisher=world.a, title="Alpha Workbook")
    url = reverse("admin:fulfillment_project_change", args=[project.pk])
    data = {"title": project.title, "ecommerce_id_string": "{294010}{424242}", "is_active": "on"}
    response = a_client.post(url, data, follow=True)
    assert not any("reprocess" in m for m in texts(response))


def test_another_publishers_notifications_are_never_offered(world, a_client):
    """B's no_match named 777777; A listing 777777 must not be offered B's notification."""
    project = Project.objects.get(publisher=world.a, title="Alpha Workbook")
    url = reverse("admin:fulfillment_project_change", args=[project.pk])
    data = {"title": project.title, "ecommerce_id_string": "{294010}{777777}", "is_active": "on"}
    response = a_client.post(url, data, follow=True)
    assert not any("reprocess" in m for m in texts(response))


def test_the_account_page_offers_reprocess_on_no_match_notifications(world, a_client):
    content = account(a_client)
    assert f'id="reprocess-{world.a_no_match.pk}"' in content
    make_project(world.a, "555555", title="Alpha Atlas")
    response = a_client.post(
        reverse("admin:fulfillment_notification_reprocess", args=[world.a_no_match.pk]),
        follow=True,
    )
    assert response.status_code == 200
    assert Order.objects.filter(publisher=world.a, external_order_id="11110002").exists()


def test_a_viewer_gets_no_reprocess_button(world):
    viewer = make_publisher_user(world.a, "alpha-viewer2", PASSWORD)
    viewer.groups.set([Group.objects.get(name=VIEWER_GROUP)])
    client = Client()
    client.force_login(viewer)
    assert f'id="reprocess-{world.a_no_match.pk}"' not in account(client)


# 15. The bundle warning is on the form, before saving ----------------------------------


def test_the_project_form_carries_the_other_projects_ids_and_warns_for_the_stored_value(
    world, a_client
):
    atlas = make_project(world.a, "{294010}{300300}", title="Alpha Atlas")
    page = a_client.get(reverse("admin:fulfillment_project_change", args=[atlas.pk]))
    content = page.content.decode()
    assert "fulfillment/project_form.js" in content
    # The stored value already shares 294010 with "Alpha Workbook": said before any save.
    assert "SamCart product ID 294010 is also listed by" in content
    start = content.index('data-shared-ids="') + len('data-shared-ids="')
    raw = content[start : content.index('"', start)]
    shared = json.loads(raw.replace("&quot;", '"').replace("&amp;", "&"))
    assert shared == {"279813": ["Alpha Almanac"], "294010": ["Alpha Workbook"]}


def test_a_publishers_form_never_carries_another_publishers_ids(world, a_client):
    page = a_client.get(reverse("admin:fulfillment_project_add")).content.decode()
    assert "Beta Hidden Planner" not in page
    assert "777777" not in page


def test_funded_publisher_fixture_is_unchanged():
    """Keeps the money fixtures honest: the new hold summary adds up like the old one."""
    publisher = Publisher.objects.create(name="Quiet", email="q@example.com")
    from fulfillment.selectors import hold_summary

    summary = hold_summary(publisher)
    assert (summary.count, summary.total, summary.payable, summary.cheapest) == (
        0,
        Decimal("0.00"),
        0,
        None,
    )
