"""Issue 20 #22: the buyer told when the order ships, through a real SMTP server.

Staff mark orders shipped on the ship page (Django test client, real views); the shipment
writes the buyer's e-mail as an outbox alert; the worker's sending sweep delivers it to an
aiosmtpd server, where it is parsed back: sender name, Reply-To, items, carrier, tracking link.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Alert, AlertKind, Carrier, Order, OrderStatus, Publisher
from fulfillment.services.alerts import alerts_send_due
from fulfillment.services.tracking import tracking_url
from tests.factories import (
    make_project,
    make_publisher,
    make_publisher_user,
    make_staff_user,
    post_notify,
    sample,
)
from tests.smtp import free_port

pytestmark = pytest.mark.django_db
SHIP = "admin:fulfillment_order_ship"
NUMBER = "1Z 999/AA+10"  # a space, a slash and a plus: each must be URL-encoded in the link
ENCODED = "1Z%20999%2FAA%2B10"
EXPECTED_LINKS = {
    Carrier.USPS: f"https://tools.usps.com/go/TrackConfirmAction?tLabels={ENCODED}",
    Carrier.UPS: f"https://www.ups.com/track?tracknum={ENCODED}",
    Carrier.FEDEX: f"https://www.fedex.com/fedextrack/?trknbr={ENCODED}",
    Carrier.DHL: f"https://www.dhl.com/en/express/tracking.html?AWB={ENCODED}",
}


def sale(order_id: str, *, email: str = "rosalind.okafor@example.com") -> bytes:
    """The sample SamCart sale with its own order id and buyer address."""
    body = json.loads(sample("order_products_array"))
    body["order"]["id"] = int(order_id)
    body["customer"]["email"] = email
    return json.dumps(body).encode()


def in_production(publisher: Publisher, order_id: str = "35211874", **options: object) -> Order:
    """Post a paid sale through the Notify URL; return its order (in production)."""
    post_notify(Client(), publisher, sale(order_id, **options))  # type: ignore[arg-type]
    order = Order.objects.get(publisher=publisher, external_order_id=order_id)
    assert order.status == OrderStatus.IN_PRODUCTION
    return order


@pytest.fixture
def press(db) -> Publisher:
    publisher = make_publisher(
        balance="200.00",
        name='Lighthouse "Press", Ltd.',
        email="orders@lighthouse.example",
        buyer_shipping_email=True,
    )
    make_project(publisher, "279813", title="The Lighthouse Keeper's Almanac")
    return publisher


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(make_staff_user())
    return client


def ship(staff: Client, order: Order, *, carrier: str = "", tracking: str = NUMBER):
    return staff.post(
        reverse(SHIP),
        {"order": [order.pk], f"tracking_{order.pk}": tracking, f"carrier_{order.pk}": carrier},
        follow=True,
    )


def test_tracking_links_are_built_per_carrier_and_url_encoded():
    for carrier, link in EXPECTED_LINKS.items():
        assert tracking_url(carrier, f"  {NUMBER} ") == link
    assert tracking_url(Carrier.OTHER, NUMBER) == ""
    assert tracking_url(Carrier.NONE, NUMBER) == ""
    assert tracking_url(Carrier.USPS, "  ") == ""
    assert quote(NUMBER, safe="") == ENCODED


def test_the_ship_page_offers_every_carrier_beside_the_tracking_number(press, staff):
    order = in_production(press)
    page = staff.get(reverse(SHIP), {"ids": order.pk}).content.decode()
    assert f'name="carrier_{order.pk}"' in page
    for value, label in Carrier.choices:
        assert f'<option value="{value}">{label}</option>' in page


@pytest.mark.parametrize("carrier", [c for c in Carrier.values if c])
def test_the_buyer_gets_the_shipping_email_with_the_carriers_tracking_link(
    press, staff, smtp_server, carrier
):
    order = in_production(press)
    ship(staff, order, carrier=carrier)
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == ("shipped", carrier, NUMBER)

    assert alerts_send_due() == 1  # the worker's sweep (the task enqueued does the same)
    [message] = smtp_server.inbox.messages
    assert message["To"] == "rosalind.okafor@example.com"
    assert message["From"].addresses[0].display_name == 'Lighthouse "Press", Ltd.'
    assert message["From"].addresses[0].addr_spec == "fulfillment@trepstar.example"
    assert message["Reply-To"] == "orders@lighthouse.example"
    assert str(message["Subject"]) == 'Your order from Lighthouse "Press", Ltd. has shipped'
    assert "List-Unsubscribe" not in message  # the buyer is no login: nothing to switch off
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "1 item: The Lighthouse Keeper's Almanac" in text
    assert f"Carrier: {Carrier(carrier).label}" in text
    assert f"Tracking number: {NUMBER}" in text
    link = EXPECTED_LINKS.get(carrier)
    if link is None:  # another carrier: the number, no link
        assert "Follow your parcel" not in text and "http" not in text
    else:
        assert f"Follow your parcel: {link}" in text
        assert f'href="{link}"' in html
    assert "Hello Rosalind Okafor" in text


def test_a_refusing_mail_server_never_blocks_shipping(press, staff, settings, smtp_server):
    order = in_production(press)
    settings.EMAIL_PORT = free_port()  # nothing listens there: connection refused
    answer = ship(staff, order, carrier=Carrier.UPS)
    assert "Marked as shipped" in answer.content.decode()
    assert alerts_send_due() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    alert = Alert.objects.get(kind=AlertKind.BUYER_SHIPPED)
    assert alert.sent_at is None and alert.attempts == 1 and alert.next_try_at > timezone.now()
    assert "ConnectionRefusedError" in alert.last_error


class Bouncer:
    """An SMTP server that refuses every recipient (a buyer's address that bounces)."""

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        return "550 5.1.1 No such mailbox"


def test_a_bouncing_buyer_address_never_blocks_shipping(press, staff, settings, smtp_server):
    order = in_production(press)
    port = free_port()
    bouncer = Controller(Bouncer(), hostname="127.0.0.1", port=port)
    bouncer.start()
    try:
        settings.EMAIL_PORT = port
        ship(staff, order, carrier=Carrier.USPS)
        assert alerts_send_due() == 0
    finally:
        bouncer.stop()
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    alert = Alert.objects.get(kind=AlertKind.BUYER_SHIPPED)
    assert alert.sent_at is None and "SMTPRecipientsRefused" in alert.last_error


def test_an_empty_or_invalid_buyer_address_never_blocks_shipping(press, staff, smtp_server):
    empty = in_production(press, "35211001", email="")
    invalid = in_production(press, "35211002", email="rosalind@")
    ship(staff, empty, carrier=Carrier.USPS)
    ship(staff, invalid, carrier=Carrier.USPS)
    for order in (empty, invalid):
        order.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED
    # No address: no e-mail. A malformed one (kept as SamCart sent it): failed, for staff.
    alert = Alert.objects.get(kind=AlertKind.BUYER_SHIPPED)
    assert alert.cause == f"order:{invalid.pk}" and alert.sent_at is None
    assert alert.failed_at is not None and "not an e-mail address" in alert.last_error
    assert alerts_send_due() == 0
    assert smtp_server.inbox.messages == []


def test_setting_off_sends_the_buyer_nothing(press, staff, smtp_server):
    Publisher.objects.filter(pk=press.pk).update(buyer_shipping_email=False)
    order = in_production(press)
    ship(staff, order, carrier=Carrier.USPS)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert not Alert.objects.filter(kind=AlertKind.BUYER_SHIPPED).exists()
    assert alerts_send_due() == 0 and smtp_server.inbox.messages == []


def test_a_test_order_never_emails_its_buyer(press, staff):
    from fulfillment.services.orders import order_ship

    order = in_production(press)
    Order.objects.filter(pk=order.pk).update(is_test=True)
    order_ship(order=order, actor=None, tracking_number=NUMBER, carrier=Carrier.USPS)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert not Alert.objects.filter(kind=AlertKind.BUYER_SHIPPED).exists()


def test_an_unknown_carrier_is_refused_with_a_message_not_a_500(press, staff):
    order = in_production(press)
    answer = ship(staff, order, carrier="pigeon")
    assert answer.status_code == 200
    assert "Choose a carrier from the list." in answer.content.decode()
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PRODUCTION


# The setting: a manager on the account page (Advanced Settings), staff on the publisher form.


def _settings_form(publisher: Publisher, **changes: object) -> dict[str, object]:
    data = {
        "publisher": publisher.idpub,
        "alert_hold_orders": "on",
        "alert_needs_action": "on",
        "low_balance_threshold": "25.00",
        "production_delay_minutes": "0",
        "grouping_minutes": "0",
    }
    data.update(changes)
    return data


def test_a_manager_switches_the_buyer_email_on_and_a_viewer_may_not():
    publisher = make_publisher()
    assert publisher.buyer_shipping_email is False  # off by default
    manager, viewer = Client(), Client()
    manager.force_login(make_publisher_user(publisher))
    viewer.force_login(make_publisher_user(publisher, role="viewer"))
    page = manager.get(reverse("account")).content.decode()
    advanced = page[page.index('id="advanced-settings"') :]
    assert 'name="buyer_shipping_email"' in advanced
    assert 'id="buyer-email-preview"' in advanced

    alerts = reverse("account-alerts")
    form = _settings_form(publisher, buyer_shipping_email="on")
    assert viewer.post(alerts, form).status_code == 403
    assert Publisher.objects.get(pk=publisher.pk).buyer_shipping_email is False
    manager.post(alerts, form)
    assert Publisher.objects.get(pk=publisher.pk).buyer_shipping_email is True
    manager.post(alerts, _settings_form(publisher))
    assert Publisher.objects.get(pk=publisher.pk).buyer_shipping_email is False


def test_staff_see_the_setting_on_the_publisher_form(staff):
    publisher = make_publisher()
    page = staff.get(reverse("admin:fulfillment_publisher_change", args=[publisher.pk]))
    assert 'name="buyer_shipping_email"' in page.content.decode()


# The preview: the publisher's own, from the account page.


def test_the_preview_shows_the_latest_shipped_order_or_a_sample(press, staff):
    manager = Client()
    manager.force_login(make_publisher_user(press))
    preview = reverse("buyer-email-preview")
    page = manager.get(preview).content.decode()
    assert "made-up order" in page and "Jane Buyer" in page
    assert "tools.usps.com" in page  # the sample's USPS link

    order = in_production(press)
    ship(staff, order, carrier=Carrier.FEDEX)
    page = manager.get(preview).content.decode()
    assert f"#{order.pk}" in page and "Rosalind Okafor" in page
    assert ENCODED in page and "fedex.com" in page
    assert "Lighthouse &quot;Press&quot;, Ltd." in page and "orders@lighthouse.example" in page
    assert page.count("Reply-To") == 1

    # Whatever SamCart sent as the buyer's name is shown as text, never as markup.
    Order.objects.filter(pk=order.pk).update(ship_name="<script>alert(1)</script>\u2028")
    page = manager.get(preview).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_the_preview_is_scoped_and_needs_a_login(press, staff):
    other = make_publisher(name="Other House")
    preview = reverse("buyer-email-preview")
    viewer, stranger = Client(), Client()
    viewer.force_login(make_publisher_user(press, role="viewer"))
    stranger.force_login(make_publisher_user(other))

    assert viewer.get(preview).status_code == 200  # read-only: a viewer may look
    assert stranger.get(preview, {"publisher": press.idpub}).status_code == 404
    assert "Lighthouse" not in stranger.get(preview).content.decode()
    assert stranger.get(preview, {"publisher": "x' OR 1=1"}).status_code == 404
    assert Client().get(preview).status_code == 302  # to the login page
    assert staff.get(preview, {"publisher": press.idpub}).status_code == 200
    assert staff.get(preview).status_code == 404  # staff name the publisher
    assert staff.post(preview, {"publisher": press.idpub}).status_code == 405


def test_the_shipped_filter_lists_shipped_orders_for_the_publisher(press, staff):
    order = in_production(press)
    ship(staff, order, carrier=Carrier.DHL)
    manager = Client()
    manager.force_login(make_publisher_user(press))
    listing = manager.get(
        reverse("admin:fulfillment_order_changelist"), {"status__exact": "shipped"}
    )
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    page = manager.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert "DHL Express" in page.content.decode()


def test_the_api_shows_the_carrier_beside_the_tracking_number(press, staff):
    order = in_production(press)
    ship(staff, order, carrier=Carrier.FEDEX)
    manager = Client()
    manager.force_login(make_publisher_user(press))
    answer = manager.get(f"/api/v1/orders/{order.pk}/").json()
    assert (answer["tracking_number"], answer["carrier"]) == (NUMBER, "fedex")
    assert manager.patch(
        f"/api/v1/orders/{order.pk}/", {"carrier": "ups"}, content_type="application/json"
    ).status_code in (400, 403, 409)
    assert Order.objects.get(pk=order.pk).carrier == Carrier.FEDEX
