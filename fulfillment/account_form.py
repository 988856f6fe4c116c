"""The account page's forms: e-mail alerts (SPEC §14) and the edit window (§15), which
`account.account_settings` saves, and the SamCart API key (§17), which `account_samcart_key`
saves."""

from __future__ import annotations

from django import forms

from fulfillment.models import Publisher
from fulfillment.services.samcart_keys import ERROR_KEY_FORMAT, KEY_MAX_LENGTH, samcart_key_valid

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


# The SamCart API key (SPEC §17): set, replaced or removed by a manager; never shown again.
SAMCART_KEY_PERMISSION = "fulfillment.change_publisher"
MAY_NOT_SET_SAMCART_KEY = (
    "Your login may not change the SamCart API key; ask a manager of your account."
)
SAMCART_KEY_SAVED = "SamCart API key saved (ending in …{last4}). The SamCart check uses it now."
SAMCART_KEY_REMOVED = "SamCart API key removed: the SamCart check stops for this account."
SAMCART_KEY_EMPTY = "Enter the API key SamCart gave you, or press Remove the key."
SAMCART_KEY_NOT_SAVED = "SamCart API key not saved: {error}"


class SamcartKeyField(forms.CharField):
    """A write-only SamCart API key input (the page never shows a key), checked by the
    service's rule and in its words; empty is allowed (the form says what empty means)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("required", False)
        # No max_length: a longer value gets the key-format error, in the same words.
        # "new-password": browsers then never fill in the login's saved password here.
        widget = forms.PasswordInput(
            render_value=False,
            attrs={
                "autocomplete": "new-password",
                "spellcheck": "false",
                "maxlength": KEY_MAX_LENGTH,
            },
        )
        super().__init__(strip=True, widget=widget, **kwargs)  # type: ignore[arg-type]

    def validate(self, value: str) -> None:
        """Refuse a key of the wrong shape."""
        super().validate(value)
        if value and not samcart_key_valid(value):
            raise forms.ValidationError(ERROR_KEY_FORMAT)


class SamcartKeyForm(forms.Form):
    """A new SamCart API key (write-only: the input never shows a key), or its removal."""

    samcart_api_key = SamcartKeyField(label="SamCart API key")
    remove = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, object]:
        """Ask for a key unless the person removes it."""
        cleaned = super().clean()
        if not cleaned.get("remove") and not cleaned.get("samcart_api_key") and not self.errors:
            raise forms.ValidationError(SAMCART_KEY_EMPTY)
        return cleaned

    def error_text(self) -> str:
        """Return the form's errors in one line (the key itself is never part of them)."""
        return " ".join(" ".join(errors) for errors in self.errors.values())
