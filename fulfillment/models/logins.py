"""What one login chose for itself: its clock and the alerts it gets (SPEC §3, §14)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .publishers import validate_time_zone


class LoginPreferences(models.Model):
    """One login's own choices; a login without a row takes the defaults (all alerts on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Empty: the publisher's time zone.",
    )
    alert_hold_orders = models.BooleanField("e-mail me about orders on hold", default=True)
    alert_needs_action = models.BooleanField(
        "e-mail me about notifications that need action", default=True
    )
    alert_low_balance = models.BooleanField("e-mail me when the balance runs low", default=True)
    alert_shipped_daily = models.BooleanField(
        "e-mail me a daily list of the orders shipped", default=False
    )

    class Meta:
        verbose_name = "login preferences"
        verbose_name_plural = "login preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"
