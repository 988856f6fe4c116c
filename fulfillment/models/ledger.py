"""The ledger: every movement of a publisher's prepaid balance. Its sum is the balance."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .base import MoneyField, PublisherScopedQuerySet
from .orders import Order
from .publishers import Publisher


class LedgerKind(models.TextChoices):
    """Kinds of ledger entry (SPEC §3)."""

    DEPOSIT = "deposit"
    CHARGE = "charge"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"  # a cancelled scheduled order's charge given back (§15)


class LedgerEntryQuerySet(PublisherScopedQuerySet):
    """Ledger entries, scoped by publisher."""


class LedgerEntry(models.Model):
    """A deposit (+), a charge for an order (−) or a staff adjustment (±)."""

    publisher = models.ForeignKey(Publisher, on_delete=models.PROTECT, related_name="ledger")
    amount = MoneyField()
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=LedgerKind.values), name="ledger_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=LedgerKind.DEPOSIT) | models.Q(amount__gt=0),
                name="ledger_deposit_positive",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=LedgerKind.CHARGE)
                | (models.Q(amount__lte=0) & models.Q(order__isnull=False)),
                name="ledger_charge_has_order",
            ),
            # A box's charges and refunds name it; they sum to −cost while it is charged and
            # to 0 otherwise (SPEC §18: a joining line charges the difference, a box held again
            # is refunded whole, so a box may have several of each).
            models.CheckConstraint(
                condition=~models.Q(kind=LedgerKind.REFUND)
                | (models.Q(amount__gte=0) & models.Q(order__isnull=False)),
                name="ledger_refund_has_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"
