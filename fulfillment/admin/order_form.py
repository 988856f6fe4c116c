"""The admin form of a box on hold: only what the person changed is validated.

SamCart sends what its checkout collected; an e-mail address such as `not an email` is
stored as received. A publisher changing a quantity must not be told to fix the e-mail
first, so fields the person did not change keep their stored values unchecked. What they do
change is validated in full.

The box's items (SPEC §18) are fields of the same form while it is on hold and the person may
change it: one quantity per item (a whole number from 1 to MAX_QUANTITY, SPEC §7: the same
limit as the intake and the API) and, when the box holds more than one item, a *remove* box.
The order admin saves them through `services.lines`; a scheduled box changes its address only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from fulfillment.countries import country_names
from fulfillment.limits import ERROR_QUANTITY, MAX_QUANTITY
from fulfillment.models import OrderLine, OrderStatus
from fulfillment.services.charge import line_cost
from fulfillment.services.orders import EDITABLE_ON_HOLD, order_update_check, scheduled_edit_check
from fulfillment.services.wording import money

if TYPE_CHECKING:
    from django.forms import BoundField

COUNTRY_LIST_ID = "ts-country-names"

LINE_QUANTITY = "line_{pk}_quantity"
LINE_REMOVE = "line_{pk}_remove"
ERROR_REMOVE_ALL = (
    "An order keeps at least one item: to stop all of it, delete the order instead of "
    "removing every item."
)
ERROR_LINES_NOT_ON_HOLD = (
    "Order {order} is {status}: its items change only while it is on hold (its address still "
    "can while it is scheduled)."
)

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


class LineQuantityField(forms.IntegerField):
    """A line's quantity: a request that does not send it leaves it as it is (an emptied box
    is sent, as "", and is an error)."""

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Tell whether the quantity changed; not sent at all is unchanged."""
        return data is not None and super().has_changed(initial, data)


@dataclass(frozen=True)
class LineRow:
    """One row of the order page's items table: a line and, when it may change, its inputs."""

    line: OrderLine
    quantity: BoundField | None = None
    remove: BoundField | None = None

    @property
    def removed(self) -> bool:
        """Tell whether the publisher removed this line from the box."""
        return self.line.removed_at is not None

    @property
    def unit_text(self) -> str:
        """The price per copy as priced."""
        return money(self.line.unit_cost)

    @property
    def shipping_text(self) -> str:
        """The line's project shipping as priced (the box pays the highest once)."""
        return money(self.line.shipping_cost)

    @property
    def total_text(self) -> str:
        """The copies of the line: price per copy × quantity."""
        return money(line_cost(self.line))


class HoldOrderForm(forms.ModelForm):
    """A ModelForm that validates changed fields only; unchanged ones keep their values.

    `lines_editable` is set by the admin for the request (the person may change the order);
    the item fields exist only then, and only while the box is on hold.
    """

    lines_editable: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._line_names: dict[int, tuple[str, str | None]] = {}
        if not self.lines_editable or self.instance.status != OrderStatus.HOLD:
            return
        active = self.instance.active_lines()
        for line in active:
            quantity = LINE_QUANTITY.format(pk=line.pk)
            self.fields[quantity] = LineQuantityField(
                label=f"Quantity of {line.project.title}",
                initial=line.quantity,
                widget=forms.NumberInput(
                    attrs={
                        "class": "vIntegerField ts-line-quantity",
                        "aria-label": f"Quantity of {line.project.title}",
                    }
                ),
                **quantity_field_options(),
            )
            remove = None
            if len(active) > 1:  # the last item is not removed: the box is deleted instead
                remove = LINE_REMOVE.format(pk=line.pk)
                self.fields[remove] = forms.BooleanField(
                    label=f"Remove {line.project.title}", required=False, initial=False
                )
            self._line_names[line.pk] = (quantity, remove)

    @property
    def lines_open(self) -> bool:
        """Tell whether the form offers the item inputs (on hold, and the person may change)."""
        return bool(self._line_names)

    def line_rows(self) -> list[LineRow]:
        """Return every line of the box, removed ones too, with its inputs when it has any."""
        rows = []
        for line in self.instance.lines.all():
            quantity, remove = self._line_names.get(line.pk, (None, None))
            rows.append(
                LineRow(
                    line=line,
                    quantity=self[quantity] if quantity else None,
                    remove=self[remove] if remove else None,
                )
            )
        return rows

    def line_changes(self) -> tuple[list[tuple[OrderLine, int]], list[OrderLine]]:
        """Return what a valid form changes in the items: (line, new quantity) pairs and the
        lines to remove (a removed line's quantity is left as it was)."""
        quantities: list[tuple[OrderLine, int]] = []
        removals: list[OrderLine] = []
        changed = set(self.changed_data)
        for line in self.instance.active_lines():
            quantity, remove = self._line_names.get(line.pk, (None, None))
            if remove and self.cleaned_data.get(remove):
                removals.append(line)
            elif quantity in changed:
                quantities.append((line, self.cleaned_data[quantity]))
        return quantities, removals

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
        self._check_lines(data)
        return data

    def _check_lines(self, data: dict[str, Any]) -> None:
        """Run the service's quantity rule on changed quantities; refuse removing every item,
        and item changes posted for a box that is no longer on hold."""
        if not self._line_names:
            self._refuse_lines_off_hold()
            return
        for quantity, _remove in self._line_names.values():
            if quantity in self.changed_data and quantity not in self.errors:
                try:
                    order_update_check(quantity=data[quantity])
                except ValidationError as error:
                    self.add_error(quantity, error.message_dict.get("quantity", error.messages))
        removes = [remove for _quantity, remove in self._line_names.values() if remove]
        if removes and all(data.get(remove) for remove in removes):
            self.add_error(None, ERROR_REMOVE_ALL)

    def _refuse_lines_off_hold(self) -> None:
        """A box that left hold since the page was shown keeps its items: say so rather than
        drop the posted change silently."""
        if not self.is_bound or self.instance.pk is None or not self.lines_editable:
            return
        for line in self.instance.active_lines():
            posted = self.data.get(LINE_QUANTITY.format(pk=line.pk))
            removed = self.data.get(LINE_REMOVE.format(pk=line.pk))
            if (posted is not None and posted.strip() != str(line.quantity)) or removed:
                status = self.instance.get_status_display()
                message = ERROR_LINES_NOT_ON_HOLD.format(order=self.instance.pk, status=status)
                self.add_error(None, message)
                return

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
