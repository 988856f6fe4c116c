"""The data model of SPEC §3."""

from .alerts import Alert, AlertKind, PeriodicRun
from .base import CENT, STAFF_GROUP, ZERO, PublisherScopedQuerySet, is_trepstar_staff
from .ledger import LedgerEntry, LedgerKind
from .logins import LoginPreferences
from .notifications import (
    KEY_REFUSED_STATUS,
    REPROCESSABLE_OUTCOMES,
    STUCK_AFTER,
    Notification,
    Outcome,
    RefusedRequestTally,
)
from .orders import (
    Carrier,
    FoundBy,
    HoldReason,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderStatus,
    SplitReason,
)
from .projects import Project, ProjectCartId
from .publishers import Publisher, new_idpub, new_notify_key, validate_time_zone
from .samcart_check import FindingKind, RunKind, RunStatus, SamcartCheckRun

__all__ = [
    "CENT",
    "KEY_REFUSED_STATUS",
    "REPROCESSABLE_OUTCOMES",
    "STAFF_GROUP",
    "STUCK_AFTER",
    "ZERO",
    "Alert",
    "AlertKind",
    "Carrier",
    "FindingKind",
    "FoundBy",
    "HoldReason",
    "LedgerEntry",
    "LedgerKind",
    "LoginPreferences",
    "Notification",
    "Order",
    "OrderEvent",
    "OrderEventKind",
    "OrderLine",
    "OrderStatus",
    "Outcome",
    "PeriodicRun",
    "Project",
    "ProjectCartId",
    "Publisher",
    "PublisherScopedQuerySet",
    "RefusedRequestTally",
    "RunKind",
    "RunStatus",
    "SamcartCheckRun",
    "SplitReason",
    "is_trepstar_staff",
    "new_idpub",
    "new_notify_key",
    "validate_time_zone",
]
