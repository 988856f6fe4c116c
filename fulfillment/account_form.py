"""The account page's forms: e-mail alerts (SPEC §14), the edit window (§15) and the grouping
(§18), which `account.account_settings` saves, and the SamCart API key (§17), which
`account_samcart_key` saves, and the test sale (issue 20 #10), which `account_test_sale`
sends."""

from __future__ import annotations

from django import forms

from fulfillment import clock
from fulfillment.models import Publisher
from fulfillment.models.publishers import MAX_GROUPING
from fulfillment.services.samcart_keys import ERROR_KEY_FORMAT, KEY_MAX_LENGTH, samcart_key_valid
from fulfillment.services.test_sale import TestSaleKind

SETTINGS_FIELDS = (
    "alert_hold_orders",
    "alert_needs_action",
    "low_balance_threshold",
    "production_delay_minutes",
    "grouping_minutes",
    "buyer_shipping_email",
    "time_zone",
)
# Shown under "Advanced Settings": when production starts (edit window, grouping), whether the
# buyer gets a shipping e-mail (issue 20 #22), the clock (#9).
ADVANCED_FIELDS = (
    "production_delay_minutes",
    "grouping_minutes",
    "buyer_shipping_email",
    "time_zone",
)
SETTINGS_PERMISSION = "fulfillment.change_publisher"
MAY_NOT_CHANGE_SETTINGS = "Your login may not change these settings; ask a manager of your account."
# Alerts go to the publisher's address and every active login's (`alert_recipients`).
SETTINGS_SAVED = (
    "Settings saved: e-mail alerts go to the publisher's address and every login's "
    "({recipients}); edit window {window}; grouping {grouping}."
)
# Advanced Settings: how long a paid order waits for the rest of its SamCart order (SPEC §18).
GROUPING_HELP = (
    "A paid order waits at least this long before production, so an order bump or upsell "
    "bought minutes later ships in the same box, with one shipping charge."
)
GROUPING_RANGE = f"Enter a whole number of minutes from 0 to {MAX_GROUPING}."


class GroupingField(forms.IntegerField):
    """The grouping minutes (0–60) of a publisher's settings form; empty keeps the saved value
    (the form's `clean_grouping_minutes` puts it back), so a form sent without it changes
    nothing."""

    def __init__(self, **kwargs: object) -> None:
        errors = {
            "invalid": GROUPING_RANGE,
            "min_value": GROUPING_RANGE,
            "max_value": GROUPING_RANGE,
        }
        super().__init__(
            label="Grouping (minutes)",
            help_text=GROUPING_HELP,
            required=False,
            min_value=0,
            max_value=MAX_GROUPING,
            error_messages=errors,
            **kwargs,  # type: ignore[arg-type]
        )


# The one clock (SPEC §3): the zone times are shown in, chosen from the IANA names.
TIME_ZONE_LABEL = "Time zone"
TIME_ZONE_HELP = (
    "Times on your pages and in your e-mails are shown in this zone, with its abbreviation "
    "(EST, CET…). Each login may choose its own under My preferences."
)
ERROR_TIME_ZONE = "Choose a time zone from the list (an IANA name such as America/New_York)."


class TimeZoneField(forms.ChoiceField):
    """A time zone chosen from `zoneinfo.available_timezones()`; another value is a form
    error. Empty is allowed: `blank_label` says what it means (the publisher's form keeps the
    saved zone, a login's preferences follow the publisher)."""

    def __init__(self, *, blank_label: str = "", **kwargs: object) -> None:
        choices = [("", blank_label or "—"), *clock.zone_choices()]
        kwargs.setdefault("label", TIME_ZONE_LABEL)
        kwargs.setdefault("help_text", TIME_ZONE_HELP)
        super().__init__(
            choices=choices,
            required=False,
            error_messages={"invalid_choice": ERROR_TIME_ZONE},
            **kwargs,  # type: ignore[arg-type]
        )


def zone_or_saved(value: str, publisher: Publisher) -> str:
    """Return the time zone a form gave, or the publisher's saved one when empty."""
    return value or publisher.time_zone


def grouping_or_saved(value: int | None, publisher: Publisher) -> int:
    """Return the grouping minutes a form gave, or the publisher's saved ones when empty."""
    return publisher.grouping_minutes if value is None else value


def grouping_text(minutes: int) -> str:
    """Say the grouping for people: "10 minutes", or "off" for 0."""
    if not minutes:
        return "off (no waiting for more items)"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


class AccountSettingsForm(forms.ModelForm):
    """Which alerts the publisher's address gets, the low-balance threshold, the edit window
    and the grouping (Advanced Settings). Disabled (read-only) for a login that may not
    change them."""

    grouping_minutes = GroupingField()
    time_zone = TimeZoneField(blank_label="(keep the saved zone)")

    class Meta:
        model = Publisher
        fields = SETTINGS_FIELDS

    def __init__(self, *args: object, read_only: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def alert_fields(self) -> list[forms.BoundField]:
        """Return the e-mail alert fields, in the form's order."""
        return [self[name] for name in self.fields if name not in ADVANCED_FIELDS]

    def advanced_fields(self) -> list[forms.BoundField]:
        """Return the Advanced Settings fields: the edit window, the grouping."""
        return [self[name] for name in ADVANCED_FIELDS]

    def clean_grouping_minutes(self) -> int:
        """Keep the saved grouping when the form sent none."""
        return grouping_or_saved(self.cleaned_data.get("grouping_minutes"), self.instance)

    def clean_time_zone(self) -> str:
        """Keep the saved time zone when the form sent none."""
        return zone_or_saved(self.cleaned_data.get("time_zone", ""), self.instance)


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


# Test sales (issue 20 #10): managers send one through the Notify URL's own path.
TEST_SALE_PERMISSION = "fulfillment.change_publisher"
CLEAR_TEST_ORDERS_PERMISSION = "fulfillment.delete_order"
MAY_NOT_TEST_SALE = "Your login may not send test sales; ask a manager of your account."
MAY_NOT_CLEAR_TEST_ORDERS = "Your login may not clear test orders; ask a manager of your account."
TEST_SALE_SENT = "Test sale sent to your Notify URL. Its answer: {status} {outcome}."
TEST_ORDERS_CLEARED = (
    "Cleared {count}. The notifications that made them stay in the notification history."
)
ERROR_TEST_SALE_FORM = "Choose what the test sale tries: {kinds}."


class TestSaleForm(forms.Form):
    """What a test sale tries, and (for a mapped product) which of the publisher's ids."""

    __test__ = False  # not a pytest class

    kind = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in TestSaleKind])
    product = forms.CharField(required=False, max_length=64, strip=True)

    def error_text(self) -> str:
        """Return the form's errors in one line."""
        kinds = ", ".join(kind.value for kind in TestSaleKind)
        return ERROR_TEST_SALE_FORM.format(kinds=kinds)
