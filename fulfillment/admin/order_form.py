"""The admin form of a hold order: only what the person changed is validated.

SamCart sends what its checkout collected; an e-mail address such as `not an email` is
stored as received. A publisher changing the quantity must not be told to fix the e-mail
first, so fields the person did not change keep their stored values unchecked. What they do
change is validated in full, and the quantity is a whole number from 1 to MAX_QUANTITY (SPEC
§7: the same limit as the intake and the API).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from fulfillment.countries import country_names
from fulfillment.limits import ERROR_QUANTITY, MAX_QUANTITY
from fulfillment.services.orders import EDITABLE_ON_HOLD, order_update_check, scheduled_edit_check

COUNTRY_LIST_ID = "ts-country-names"

QUANTITY_ERRORS = {
    "invalid": ERROR_QUANTITY,
    "min_value": ERROR_QUANTITY,
    "max_value": ERROR_QUANTITY,
    "required": ERROR_QUANTITY,
}


def quantity_field_options() -> dict[str, Any]:
    """Return the form-field options that limit the quantity to 1..MAX_QUANTITY."""
    return {
        "min_value": 1,
        "max_value": MAX_QUANTITY,
        "error_messages": QUANTITY_ERRORS,
        "help_text": f"A whole number of copies from 1 to {MAX_QUANTITY:,}.",
    }


class CountryInput(forms.TextInput):
    """A text box that suggests the known country names (an HTML datalist); aliases work too."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"list": COUNTRY_LIST_ID, "autocomplete": "off", **(attrs or {})})

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        """Render the box and, after it, the list of names it suggests."""
        options = format_html_join("", '<option value="{}">', ((n,) for n in country_names()))
        box = super().render(name, value, attrs, renderer)
        return format_html('{}<datalist id="{}">{}</datalist>', box, COUNTRY_LIST_ID, options)


def country_field_options() -> dict[str, Any]:
    """Return the form-field options of the country: suggestions and what to type."""
    return {
        "widget": CountryInput(attrs={"class": "vTextField"}),
        "help_text": "The country's English name (Germany), a common name (USA, UK) or its "
        "two-letter code (DE). Start typing to pick from the list.",
    }


class HoldOrderForm(forms.ModelForm):
    """A ModelForm that validates changed fields only; unchanged ones keep their values."""

    def unchanged_fields(self) -> set[str]:
        """Return the names of the form's fields the person left as they were."""
        return set(self.fields) - set(self.changed_data)

    def clean(self) -> dict[str, Any]:
        """Drop the errors of unchanged fields and keep their stored values."""
        data = super().clean()
        for name in self.unchanged_fields() & set(self.errors):
            del self.errors[name]
            data[name] = self[name].initial
        self._check_with_service_rules(data)
        return data

    def _check_with_service_rules(self, data: dict[str, Any]) -> None:
        """Run `order_update_check` on the changed values: its errors land on their fields."""
        changed = {
            name: data[name]
            for name in self.changed_data
            if name in EDITABLE_ON_HOLD and name in data and name not in self.errors
        }
        try:
            order_update_check(**changed)
            scheduled_edit_check(order=self.instance, values=changed)
        except ValidationError as error:
            for name, texts in error.message_dict.items():
                self.add_error(name if name in self.fields else None, texts)

    def _post_clean(self) -> None:
        """Leave the order as stored when the form has errors: the page must not show a value
        that was not saved (the heading, the cost breakdown)."""
        instance = self.instance
        stored = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}
        super()._post_clean()
        if self.errors:
            for attname, value in stored.items():
                setattr(instance, attname, value)

    def _get_validation_exclusions(self) -> set[str]:
        """Leave unchanged fields out of the model's validation too (Django's extension point)."""
        return {*super()._get_validation_exclusions(), *self.unchanged_fields()}
