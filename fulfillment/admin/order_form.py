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

from fulfillment.limits import ERROR_QUANTITY, MAX_QUANTITY

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
        return data

    def _get_validation_exclusions(self) -> set[str]:
        """Leave unchanged fields out of the model's validation too (Django's extension point)."""
        return {*super()._get_validation_exclusions(), *self.unchanged_fields()}
