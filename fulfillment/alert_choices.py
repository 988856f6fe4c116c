"""The account page's settings: e-mail alerts (SPEC §14) and the edit window (§15); the form
`account.account_alerts` saves."""

from __future__ import annotations

from django import forms

from fulfillment.models import Publisher

ALERT_FIELDS = (
    "alert_hold_orders",
    "alert_needs_action",
    "low_balance_threshold",
    "production_delay_minutes",
)
ALERTS_PERMISSION = "fulfillment.change_publisher"
MAY_NOT_CHANGE_ALERTS = "Your login may not change these settings; ask a manager of your account."
ALERTS_SAVED = "Settings saved: e-mail alerts go to {email}; edit window {window}."


class AlertChoicesForm(forms.ModelForm):
    """Which alerts the publisher's address gets, the low-balance threshold, the edit window."""

    class Meta:
        model = Publisher
        fields = ALERT_FIELDS
