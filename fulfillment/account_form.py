"""The account page's settings: e-mail alerts (SPEC §14) and the edit window (§15); the form
`account.account_settings` saves."""

from __future__ import annotations

from django import forms

from fulfillment.models import Publisher

SETTINGS_FIELDS = (
    "alert_hold_orders",
    "alert_needs_action",
    "low_balance_threshold",
    "production_delay_minutes",
)
SETTINGS_PERMISSION = "fulfillment.change_publisher"
MAY_NOT_CHANGE_SETTINGS = "Your login may not change these settings; ask a manager of your account."
SETTINGS_SAVED = "Settings saved: e-mail alerts go to {email}; edit window {window}."


class AccountSettingsForm(forms.ModelForm):
    """Which alerts the publisher's address gets, the low-balance threshold, the edit window."""

    class Meta:
        model = Publisher
        fields = SETTINGS_FIELDS
