"""The buyer told when the order ships (issue 20 #22): an e-mail in the publisher's name.

When staff mark an order shipped and the publisher chose `buyer_shipping_email`, the shipping
transaction writes an `Alert` of kind BUYER_SHIPPED (the outbox the worker sends, with
retries): From "Publisher Name <DEFAULT_FROM_EMAIL address>", Reply-To the publisher's address,
the items, the carrier, the tracking number and the carrier's tracking link. Nothing here can
stop a shipment: no address means no e-mail, an address that is not one is written as a
failed alert (staff see it), and a server that refuses only makes the alert retry or fail.
Test orders never e-mail their buyer (their address may be anyone's).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from fulfillment.models import Alert, AlertKind, Carrier, Order, Publisher

from .alerts import alert_record
from .tracking import carrier_name, tracking_url
from .wording import items_summary

SUBJECT = "Your order from {publisher} has shipped"
NOT_AN_ADDRESS = "The buyer's address {address!r} is not an e-mail address: nothing was sent."
SUBJECT_LENGTH = Alert._meta.get_field("subject").max_length
NAME_LENGTH = Alert._meta.get_field("from_name").max_length


@dataclass(frozen=True)
class ShippedMail:
    """What a buyer's shipping e-mail says."""

    publisher_name: str
    reply_to: str
    buyer_name: str
    order_ref: str
    items: str
    carrier: str
    tracking_number: str
    tracking_url: str

    @property
    def subject(self) -> str:
        return SUBJECT.format(publisher=self.publisher_name)[:SUBJECT_LENGTH]


def one_line(text: str) -> str:
    """Text for a mail header: no line breaks or runs of spaces (a header cannot hold them)."""
    return " ".join(text.split())


def shipped_mail(order: Order, publisher: Publisher) -> ShippedMail:
    """What the e-mail of this shipped order says (its lines read here)."""
    lines = order.active_lines()
    return ShippedMail(
        publisher_name=one_line(publisher.name)[:NAME_LENGTH],
        reply_to=publisher.email,
        buyer_name=order.ship_name,
        order_ref=order.external_order_id or f"#{order.pk}",
        items=items_summary(lines) if lines else "",
        carrier=carrier_name(order.carrier),
        tracking_number=order.tracking_number,
        tracking_url=tracking_url(order.carrier, order.tracking_number),
    )


SAMPLE_NUMBER = "9400111899223197428490"


def sample_mail(publisher: Publisher) -> ShippedMail:
    """A made-up order, for the preview when the publisher has shipped none yet."""
    return ShippedMail(
        publisher_name=one_line(publisher.name)[:NAME_LENGTH],
        reply_to=publisher.email,
        buyer_name="Jane Buyer",
        order_ref="12345678",
        items="2 items: Your book, Your workbook",
        carrier=carrier_name(Carrier.USPS),
        tracking_number=SAMPLE_NUMBER,
        tracking_url=tracking_url(Carrier.USPS, SAMPLE_NUMBER),
    )


def render_mail(mail: ShippedMail) -> tuple[str, str]:
    """Return the text and HTML bodies of a buyer's shipping e-mail."""
    context = {"mail": mail}
    return (
        render_to_string("fulfillment/email/buyer_shipped.txt", context),
        render_to_string("fulfillment/email/buyer_shipped.html", context),
    )


def _valid_address(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def buyer_email_queue(*, order: Order) -> Alert | None:
    """Write the buyer's shipping e-mail of a just-shipped order, in the caller's transaction
    (the shipment); None when none is due (setting off, test order, no address)."""
    publisher = order.publisher
    address = order.customer_email.strip()
    if not publisher.buyer_shipping_email or order.is_test or not address:
        return None
    mail = shipped_mail(order, publisher)
    text, html = render_mail(mail)
    fields = {
        "publisher": publisher,
        "kind": AlertKind.BUYER_SHIPPED,
        "cause": f"order:{order.pk}",
        "recipients": address,
        "from_name": mail.publisher_name,
        "reply_to": mail.reply_to,
        "subject": mail.subject,
        "body_text": text,
        "body_html": html,
    }
    if not _valid_address(address):  # it could never go: failed at once, listed for staff
        with transaction.atomic():
            return Alert.objects.create(
                **fields,
                failed_at=timezone.now(),
                last_error=NOT_AN_ADDRESS.format(address=address[:100]),
            )
    return alert_record(**fields)
