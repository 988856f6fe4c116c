"""The account page's e-mail alert choices (SPEC §14): the form `account.account_alerts` saves."""

from __future__ import annotations

from django import forms

from fulfillment.models import Publisher

ALERT_FIELDS = (
    "alert_hold_orders",
    "alert_needs_action",
    "low_balance_threshold",
)
ALERTS_PERMISSION = "fulfillment.change_publisher"
MAY_NOT_CHANGE_ALERTS = (
    "Your login may not change the e-mail alerts; ask a manager of your account."
)
ALERTS_SAVED = "E-mail alerts saved: they go to {email}."


class AlertChoicesForm(forms.ModelForm):
    """Which alerts the publisher's address gets, and the low-balance threshold."""

    class Meta:
        model = Publisher
        fields = ALERT_FIELDS
