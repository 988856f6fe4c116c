"""Publishers: TrepStar customers who sell on SamCart and prepay their print orders."""

from __future__ import annotations

import secrets
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from .base import ZERO, MoneyField, PublisherScopedQuerySet

MAX_PRODUCTION_DELAY = 4320  # minutes: three days (SPEC §15)
MAX_GROUPING = 60  # minutes (SPEC §18)
DEFAULT_GROUPING = 10
IDPUB_RANGE = (1_000_000, 99_999_999)  # 7–8 digits: inside the 6–9 digits of SPEC §3


def new_idpub() -> str:
    """Return a random publisher id not yet used (not sequential, so not guessable in order)."""
    for _ in range(20):
        candidate = str(secrets.randbelow(IDPUB_RANGE[1] - IDPUB_RANGE[0]) + IDPUB_RANGE[0])
        if not Publisher.objects.filter(idpub=candidate).exists():
            return candidate
    raise RuntimeError("Could not find a free publisher id.")


# Letters and digits that no font confuses: no 0/O, 1/l/I, and no "_" or "-" (a link underline
# hides "_"). 56 symbols: 34 of them carry 197 random bits, more than the 192 of the old keys.
KEY_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
KEY_LENGTH = 34


DEFAULT_TIME_ZONE = "UTC"


def validate_time_zone(value: str) -> None:
    """Refuse a time zone name the IANA database does not know (SPEC §3 one clock)."""
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(
            "Unknown time zone %(value)s: use a name such as America/New_York or Europe/London.",
            params={"value": value[:64]},
        )


def new_notify_key() -> str:
    """Return a fresh Notify URL key: 34 unambiguous characters (197 random bits)."""
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


class PublisherQuerySet(PublisherScopedQuerySet):
    """Publishers; a publisher is its own scope."""

    publisher_field = "pk"


class Publisher(models.Model):
    """A TrepStar publisher account, identified publicly by `idpub`."""

    idpub = models.CharField(
        "publisher ID",
        max_length=9,
        unique=True,
        default=new_idpub,
        editable=False,
        validators=[RegexValidator(r"^[0-9]{6,9}$", "A publisher ID is 6 to 9 digits.")],
    )
    name = models.CharField(max_length=200)
    email = models.EmailField()
    balance = MoneyField(default=ZERO, editable=False)
    # Bumped by every change of a project's prices or their confirmation (under the row lock):
    # a notification that read the old prices then fails its compare-and-set charge (§7).
    pricing_version = models.PositiveIntegerField(default=0, editable=False)
    notify_key = models.CharField(max_length=64, default=new_notify_key, editable=False)
    previous_notify_key = models.CharField(max_length=64, blank=True, editable=False)
    previous_key_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    require_notify_key = models.BooleanField(
        "require the Notify URL key",
        default=True,
        help_text="Refuse notifications whose URL lacks the secret key (strongly recommended).",
    )
    auto_release = models.BooleanField(
        default=False, help_text="Release orders on hold, oldest first, when a deposit arrives."
    )
    use_billing_address = models.BooleanField(
        default=False,
        help_text="Ship to the billing address when SamCart sends no shipping address.",
    )
    alert_hold_orders = models.BooleanField(
        "e-mail me about orders on hold",
        default=True,
        help_text="At most hourly: the new orders waiting on hold, why, and what they need.",
    )
    alert_needs_action = models.BooleanField(
        "e-mail me about notifications that need action",
        default=True,
        help_text="SamCart products that matched no project, failures after the last retry, "
        "and bursts of requests with a wrong key.",
    )
    low_balance_threshold = MoneyField(
        verbose_name="low balance below",
        default=Decimal("25.00"),
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text="E-mail once each time the balance falls below this amount; empty: never.",
    )
    # The last ledger entry the low-balance scan judged (SPEC §14): the next scan walks the
    # entries after it, so every crossing below the threshold is seen, however brief.
    low_balance_judged_to = models.PositiveBigIntegerField(default=0, editable=False)
    production_delay_minutes = models.PositiveIntegerField(
        "edit window (minutes)",
        default=0,
        validators=[MaxValueValidator(MAX_PRODUCTION_DELAY)],
        help_text="Paid orders wait this long (0–4320 minutes, 3 days) before production, so "
        "you can fix the address or cancel with the money back. 0: production at once.",
    )
    # One box per cart order (SPEC §18): a paid box waits max(edit window, grouping) before
    # production, so the later products of the same SamCart order join it.
    grouping_minutes = models.PositiveSmallIntegerField(
        "grouping (minutes)",
        default=DEFAULT_GROUPING,
        validators=[MaxValueValidator(MAX_GROUPING)],
        help_text="A paid order waits at least this long (0–60 minutes) before production, so "
        "an order bump or upsell bought seconds later ships in the same box, with one shipping "
        "charge. 0: no waiting for more items.",
    )
    # The SamCart check (SPEC §17): the API key as a Fernet token (`fulfillment.crypto`), never
    # in clear; its last 4 characters for the pages; when SamCart last refused it (checks pause
    # until the key changes).
    samcart_api_key = models.TextField("SamCart API key (encrypted)", blank=True, editable=False)
    samcart_api_key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    samcart_key_refused_at = models.DateTimeField(null=True, blank=True, editable=False)
    time_zone = models.CharField(
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="Times on your pages and in your e-mails are shown in this zone (an IANA "
        "name such as America/New_York). Each login may choose its own.",
    )
    buyer_shipping_email = models.BooleanField(
        "e-mail the buyer when the order ships",
        default=False,
        help_text="When TrepStar marks an order shipped, the buyer gets an e-mail with the "
        "carrier and a tracking link, sent in your name with your address as Reply-To.",
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="publishers", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PublisherQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="publisher_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(production_delay_minutes__lte=MAX_PRODUCTION_DELAY),
                name="publisher_production_delay_range",
            ),
            models.CheckConstraint(
                condition=models.Q(grouping_minutes__lte=MAX_GROUPING),
                name="publisher_grouping_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.idpub})"
