"""The data model of SPEC §3."""

from .base import STAFF_GROUP, ZERO, PublisherScopedQuerySet, is_trepstar_staff
from .ledger import LedgerEntry, LedgerKind
from .notifications import REPROCESSABLE_OUTCOMES, Notification, Outcome
from .orders import HoldReason, Order, OrderEvent, OrderEventKind, OrderStatus
from .projects import Project, ProjectCartId
from .publishers import Publisher, new_idpub, new_notify_key

__all__ = [
    "REPROCESSABLE_OUTCOMES",
    "STAFF_GROUP",
    "ZERO",
    "HoldReason",
    "LedgerEntry",
    "LedgerKind",
    "Notification",
    "Order",
    "OrderEvent",
    "OrderEventKind",
    "OrderStatus",
    "Outcome",
    "Project",
    "ProjectCartId",
    "Publisher",
    "PublisherScopedQuerySet",
    "is_trepstar_staff",
    "new_idpub",
    "new_notify_key",
]
