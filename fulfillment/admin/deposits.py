"""The staff page that records a deposit or an adjustment on a publisher's balance."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages

from fulfillment.models import LedgerKind, Publisher
from fulfillment.services.deposits import adjustment_record, deposit_message, deposit_record
from fulfillment.services.errors import ServiceError
from fulfillment.services.wording import QUEUE_RULE, money

from .form_page import back_to_publisher, render_form_page, staff_publisher

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest, HttpResponse

NOTE_REQUIRED = "Say why: an adjustment needs a note."
# Far above any real deposit and far below what the balance column holds (10 digits before the
# point): a larger amount is a typo, and the database would refuse the balance it makes.
MAX_ENTRY = Decimal("1000000.00")
ENTRY_TOO_LARGE = f"Enter at most {money(MAX_ENTRY)} either way; record a larger sum in parts."


class BalanceEntryForm(forms.Form):
    """A deposit (money received) or an adjustment (a correction of either sign)."""

    kind = forms.ChoiceField(
        choices=[
            (LedgerKind.DEPOSIT, "Deposit — money received from the publisher"),
            (LedgerKind.ADJUSTMENT, "Adjustment — a correction, positive or negative"),
        ],
        initial=LedgerKind.DEPOSIT,
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=-MAX_ENTRY,
        max_value=MAX_ENTRY,
        error_messages={"min_value": ENTRY_TOO_LARGE, "max_value": ENTRY_TOO_LARGE},
        help_text="In dollars: 250.00",
    )
    note = forms.CharField(max_length=255, required=False, help_text="Shown in the ledger.")

    def clean(self) -> dict:
        """Insist on a note for adjustments."""
        data = super().clean()
        if data.get("kind") == LedgerKind.ADJUSTMENT and not data.get("note", "").strip():
            self.add_error("note", NOTE_REQUIRED)
        return data


def _record(request: HttpRequest, publisher: Publisher, data: dict) -> None:
    """Call the money service for the form's entry and tell the user what happened."""
    if data["kind"] == LedgerKind.DEPOSIT:
        _, released = deposit_record(
            publisher=publisher, amount=data["amount"], actor=request.user, note=data["note"]
        )
        text = deposit_message(publisher=publisher, amount=data["amount"], released=released)
        level = messages.WARNING if released is not None and released.kept else messages.SUCCESS
        messages.add_message(request, level, text)
        return
    adjustment_record(
        publisher=publisher, amount=data["amount"], actor=request.user, note=data["note"]
    )
    messages.success(
        request,
        f"Adjustment of {money(data['amount'])} recorded for {publisher.name}. Balance "
        f"{money(publisher.balance - data['amount'])} → {money(publisher.balance)}.",
    )


def balance_entry_view(
    model_admin: ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """Show the deposit/adjustment form of one publisher and record the entry on POST."""
    publisher = staff_publisher(model_admin, request, object_id)
    form = BalanceEntryForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            _record(request, publisher, form.cleaned_data)
        except ServiceError as error:
            form.add_error("amount", str(error))
        else:
            return back_to_publisher(publisher)
    return render_form_page(
        model_admin,
        request,
        publisher,
        form,
        crumb="Deposit or adjustment",
        intro=_intro(publisher),
        submit_label="Record",
    )


def _intro(publisher: Publisher) -> str:
    """Say what the balance is and what a deposit will do."""
    text = f"Current balance: {money(publisher.balance)}."
    if publisher.auto_release:
        text += " Auto-release is on: a deposit releases orders on hold. "
        text += QUEUE_RULE.replace("your", "the publisher's")
    return text
