"""Changes to existing orders: publisher edits and deletes, staff shipping (SPEC §7)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import capfirst

from fulfillment.carts.base import Address, PayloadError
from fulfillment.carts.samcart import parse_samcart
from fulfillment.countries import country_code
from fulfillment.limits import ERROR_QUANTITY, MAX_QUANTITY
from fulfillment.models import (
    Carrier,
    HoldReason,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
)
from fulfillment.text import visible

from .buyer_email import buyer_email_queue
from .errors import ERROR_NOT_EDITABLE, ERROR_NOT_ON_HOLD, NotEditable, ServiceError
from .ledger import publisher_lock
from .release import orders_release
from .status import order_address, order_lock, order_sync_hold_reason, order_transition
from .window import order_cancel_locked, window_check
from .wording import items_summary, money

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

EDITABLE_ON_HOLD = (
    "ship_name",
    "ship_street",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "customer_email",
    "customer_phone",
)

# A scheduled box (paid, in its edit window) may change the same fields: its lines (its price)
# change only on hold (`services.lines`).
EDITABLE_WHEN_SCHEDULED = EDITABLE_ON_HOLD
EDITABLE_STATUSES = (OrderStatus.HOLD, OrderStatus.SCHEDULED)
ERROR_SCHEDULED_ADDRESS = (
    "This order is paid and goes to production when its edit window ends: its address must "
    "stay complete ({missing})."
)

ERROR_COUNTRY = (
    '"{value}" is not a country we know. Type its English name (United States, Germany), '
    "its two-letter code (US, DE) or pick one from the list."
)
# Old and new values in an order's history are shortened to this many characters.
HISTORY_VALUE_LENGTH = 60


def field_label(name: str) -> str:
    """Return the label people see for an order field: `ship_street` → "Street"."""
    model = OrderLine if name == "quantity" else Order
    return str(capfirst(model._meta.get_field(name).verbose_name))


def order_update_check(**fields: Any) -> None:
    """Apply the rules of an order edit to the changed values; raise field-keyed errors.

    A line's quantity is a whole number from 1 to MAX_QUANTITY; a country, when given, must be one
    `country_code` knows (an empty one is allowed: the order then waits, address incomplete).
    The admin form and the API run the same check before saving.
    """
    errors: dict[str, list[str]] = {}
    if "quantity" in fields:
        quantity = fields["quantity"]
        whole = isinstance(quantity, int) and not isinstance(quantity, bool)
        if not whole or not 1 <= quantity <= MAX_QUANTITY:
            errors["quantity"] = [ERROR_QUANTITY]
    if "ship_country" in fields:
        value = fields["ship_country"]
        if not isinstance(value, str) or (value.strip() and not country_code(value)):
            shown = _short(value if isinstance(value, str) else repr(value))
            errors["ship_country"] = [ERROR_COUNTRY.format(value=shown)]
    if errors:
        raise ValidationError(errors)


def _short(value: object) -> str:
    """Return a value for the order history: visible characters, shortened, "(empty)" if none."""
    text = visible(str(value)).strip()
    if not text:
        return "(empty)"
    if len(text) > HISTORY_VALUE_LENGTH:
        return text[: HISTORY_VALUE_LENGTH - 1] + "…"
    return text


def _edit_detail(*, before: dict[str, Any], order: Order, changed: list[str]) -> str:
    """Say what an edit changed: "Street: 1 Old Rd → 2 New St; cost $11.45 → $13.40"."""
    parts = [
        f"{field_label(name)}: {_short(before[name])} → {_short(getattr(order, name))}"
        for name in changed
    ]
    if order.cost != before["cost"]:
        parts.append(f"cost {money(before['cost'])} → {money(order.cost)}")
    return f"{'; '.join(parts)}."


def _locked_hold_order(*, order: Order, statuses: tuple[str, ...] = (OrderStatus.HOLD,)) -> Order:
    """Lock the publisher then the order, and insist it is still in one of `statuses` (a
    scheduled one in its window: `window_check`)."""
    publisher_lock(publisher_id=order.publisher_id)
    locked = order_lock(order_id=order.pk)
    if locked.status not in statuses:
        message = ERROR_NOT_ON_HOLD if statuses == (OrderStatus.HOLD,) else ERROR_NOT_EDITABLE
        raise NotEditable(message.format(order=locked.pk, status=locked.get_status_display()))
    window_check(order=locked)
    return locked


def order_derive(*, order: Order) -> Order:
    """Recompute the fields derived from others, the one place every writer calls before it
    checks or saves: the country code from the country. (A box's cost follows its lines:
    `services.lines`.) The hold reason follows by `order_hold_reason`, synced after the save."""
    order.ship_country_code = country_code(order.ship_country)
    return order


def order_edited(*, order: Order, values: dict[str, Any]) -> Order:
    """Return a copy of `order` with `values` set and its derived fields recomputed: what
    the edit would store, for the checks to judge (the order itself is left as it is)."""
    after = copy.copy(order)
    for name, value in values.items():
        setattr(after, name, value)
    return order_derive(order=after)


def scheduled_edit_check(*, order: Order, values: dict[str, Any]) -> None:
    """A scheduled box is paid: its address, with the new `values` and what they derive (the
    country code), stays complete; raise field-keyed errors (the admin form and the API run it
    too).
    """
    if order.status != OrderStatus.SCHEDULED:
        return
    missing = order_address(order=order_edited(order=order, values=values)).missing_text()
    if missing:
        raise ValidationError({"ship_street": [ERROR_SCHEDULED_ADDRESS.format(missing=missing)]})


def order_update(*, order: Order, actor: AbstractBaseUser | None, **fields: Any) -> Order:
    """Change the customer or shipping fields of a hold or scheduled box.

    A `scheduled` box (paid, in its edit window, §15) refuses an edit that leaves its address
    incomplete. Lines (quantities, removal) change in `services.lines`, on hold only.

    Changed values go through `order_update_check` and the model's validation (field-keyed
    ValidationError). When the edit completes the address of an order held for it and the
    publisher has auto-release on, the order is released in the same transaction (by the one
    queue rule, `orders_release`).
    """
    unknown = set(fields) - set(EDITABLE_ON_HOLD)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = _locked_hold_order(order=order, statuses=EDITABLE_STATUSES)
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        order_update_check(**{name: fields[name] for name in changed})
        scheduled_edit_check(order=locked, values={name: fields[name] for name in changed})
        before = {name: getattr(locked, name) for name in (*changed, "cost", "hold_reason")}
        for name in changed:
            setattr(locked, name, fields[name])
        order_derive(order=locked)
        # Validate what the person changed; a value SamCart sent (say, an odd email) must not
        # block an unrelated edit such as the quantity.
        derived = {"ship_country_code", *changed}
        locked.full_clean(exclude=[f.name for f in Order._meta.fields if f.name not in derived])
        locked.save()
        if changed:
            detail = _edit_detail(before=before, order=locked, changed=changed)
            OrderEvent.objects.create(
                order=locked, kind=OrderEventKind.EDITED, actor=actor, detail=detail
            )
        moved = order_sync_hold_reason(order=locked, actor=actor)
        fixed = moved and before["hold_reason"] == HoldReason.ADDRESS_INCOMPLETE
        if fixed and locked.hold_reason == HoldReason.PAYMENT_REQUIRED:
            publisher = locked.publisher
            if publisher.auto_release:
                orders_release(publisher=publisher, order_ids=[locked.pk], actor=actor)
                locked.refresh_from_db()
    return locked


def order_delete(*, order: Order, actor: AbstractBaseUser | None) -> Order:
    """Delete a hold order (status `deleted`); SamCart resends will not bring it back."""
    with transaction.atomic():
        locked = _locked_hold_order(order=order)
        return order_transition(
            order=locked, target=OrderStatus.DELETED, kind=OrderEventKind.DELETED, actor=actor
        )


def order_remove(*, order: Order, actor: AbstractBaseUser | None) -> Order:
    """Take an order away, deciding how under the locks: a hold order is deleted, a scheduled
    one in its window cancelled with its refund; anything else is refused (NotEditable).

    The one place that decides delete-or-cancel (the API's DELETE, the admin), on the order
    row as locked, never on a read that a cancel or the window's end may have overtaken.
    """
    with transaction.atomic():
        publisher = publisher_lock(publisher_id=order.publisher_id)
        locked = order_lock(order_id=order.pk)
        if locked.status == OrderStatus.SCHEDULED:
            return order_cancel_locked(publisher=publisher, order=locked, actor=actor)
        if locked.status != OrderStatus.HOLD:
            raise NotEditable(
                ERROR_NOT_ON_HOLD.format(order=locked.pk, status=locked.get_status_display())
            )
        return order_transition(
            order=locked, target=OrderStatus.DELETED, kind=OrderEventKind.DELETED, actor=actor
        )


ERROR_CARRIER = "Choose a carrier from the list."


def order_ship(
    *,
    order: Order,
    actor: AbstractBaseUser | None,
    tracking_number: str = "",
    carrier: str = "",
) -> Order:
    """Mark an order in production as shipped, with an optional tracking number and carrier
    (staff); the buyer's shipping e-mail is written with it when the publisher chose it."""
    if carrier not in Carrier.values:
        raise ServiceError(ERROR_CARRIER)
    with transaction.atomic():
        locked = order_lock(order_id=order.pk)
        locked.tracking_number = tracking_number.strip()
        locked.carrier = carrier
        detail = f"Tracking number {locked.tracking_number}." if locked.tracking_number else ""
        if carrier:
            detail = f"{detail} Carrier {Carrier(carrier).label}.".strip()
        shipped = order_transition(
            order=locked,
            target=OrderStatus.SHIPPED,
            kind=OrderEventKind.SHIPPED,
            actor=actor,
            detail=detail,
            extra_fields=("tracking_number", "carrier"),
        )
        buyer_email_queue(order=shipped)
        return shipped


REFUND_TYPES = frozenset({"refund", "partialrefund", "cancel"})
REFUND_EVENT = 'SamCart sent "{type}" for this order: refunded in SamCart ({items}).'


def orders_flag_cart_refunded(
    *, publisher_id: int, order_id: str, product_ids: tuple[str, ...], event_type: str
) -> int:
    """Flag the boxes of a refunded or cancelled SamCart order; return how many.

    Changes no status and no money (SPEC §6). When the body names products that match lines,
    only those lines (and their boxes) are flagged and the event names them; otherwise every
    line of the SamCart order is. Takes the one lock order of money: the publisher row, then
    the boxes oldest first (created_at, id), as a release does, so a refund racing a release
    waits instead of deadlocking.
    """
    if not order_id:
        return 0
    boxes = Order.objects.filter(publisher_id=publisher_id, external_order_id=order_id)
    if not boxes.exists():  # an unknown order id takes no lock
        return 0
    with transaction.atomic(savepoint=False):
        publisher_lock(publisher_id=publisher_id)
        locked = list(
            boxes.select_for_update(of=("self",), no_key=True)
            .with_lines()
            .order_by("created_at", "id")
        )
        lines = [line for box in locked for line in box.lines.all()]
        named = [line for line in lines if line.external_product_id in product_ids]
        targets = [line for line in (named or lines) if not line.cart_refunded]
        if not targets:
            return 0
        OrderLine.objects.filter(pk__in=[line.pk for line in targets]).update(cart_refunded=True)
        by_box: dict[int, list[OrderLine]] = {}
        for line in targets:
            by_box.setdefault(line.order_id, []).append(line)
        Order.objects.filter(pk__in=list(by_box)).update(cart_refunded=True)
        OrderEvent.objects.bulk_create(
            OrderEvent(
                order_id=pk,
                kind=OrderEventKind.CART_REFUNDED,
                detail=REFUND_EVENT.format(type=event_type, items=items_summary(box_lines)),
            )
            for pk, box_lines in by_box.items()
        )
    return len(by_box)


def order_billing_address(*, order: Order) -> Address | None:
    """Return the billing address SamCart sent with the order, or None when there is none.

    Parsed from the stored notification body by the cart parser, so an address-incomplete
    order can show what the buyer typed at checkout without the raw body.
    """
    notification = order.notification
    if notification is None:
        return None
    try:
        parsed = parse_samcart(bytes(notification.raw_body), notification.content_type)
    except PayloadError:
        return None
    return None if parsed.billing.is_empty() else parsed.billing
