"""`GET /api/v1/statements/<YYYY-MM>/`: a publisher's monthly statement (issue 20, point 21).

The caller's publisher (staff name one with `?publisher=<id>`; a login acting for several
may too). Months run in the publisher's time zone; times are ISO-8601 with that offset.
A month that is not YYYY-MM, or a publisher id that is not a number, answers 400; another
publisher's id answers 404. Needs the ledger's view permission, as the admin's page.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from fulfillment.ids import id_or_none
from fulfillment.models import LedgerEntry, LedgerKind, Publisher
from fulfillment.services.statements import (
    MonthError,
    Statement,
    month_parse,
    statement_build,
)

from .views import ScopedView

ERROR_PUBLISHER = "Enter the id of one of your publishers (a whole number)."
ERROR_WHICH = "You act for several publishers: name one with ?publisher=<id>."
NOT_FOUND = "No such publisher among yours."
MONEY = {"max_digits": 14, "decimal_places": 2}


class StatementLineSerializer(serializers.Serializer):
    """One ledger entry of the month, with the balance after it."""

    entry_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=LedgerKind.choices)
    amount = serializers.DecimalField(**MONEY)
    balance_after = serializers.DecimalField(**MONEY)
    order_id = serializers.IntegerField(allow_null=True)
    external_order_id = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True)


class StatementSerializer(serializers.Serializer):
    """A month: opening balance, entries, closing balance, totals per kind."""

    publisher = serializers.IntegerField()
    publisher_idpub = serializers.CharField()
    month = serializers.CharField()
    time_zone = serializers.CharField()
    opening = serializers.DecimalField(**MONEY)
    closing = serializers.DecimalField(**MONEY)
    totals = serializers.DictField(child=serializers.DecimalField(**MONEY))
    lines = StatementLineSerializer(many=True)


def statement_data(statement: Statement) -> dict[str, Any]:
    """Return what the serializer writes: the month as YYYY-MM, totals by kind code."""
    return {
        "publisher": statement.publisher.pk,
        "publisher_idpub": statement.publisher.idpub,
        "month": f"{statement.month:%Y-%m}",
        "time_zone": str(statement.zone),
        "opening": statement.opening,
        "closing": statement.closing,
        "totals": {kind.value: statement.total(kind.value) for kind in LedgerKind},
        "lines": [vars(line) for line in statement.lines],
    }


class StatementDetail(ScopedView, generics.GenericAPIView):
    """A publisher's monthly statement; months run in the publisher's time zone."""

    serializer_class = StatementSerializer
    filter_backends = ()
    pagination_class = None

    def get_queryset(self) -> Any:
        """Return the caller's ledger (the permission is the ledger's view permission)."""
        return LedgerEntry.objects.for_user(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month", OpenApiTypes.STR, OpenApiParameter.PATH, description="YYYY-MM"
            ),
            OpenApiParameter(
                "publisher",
                OpenApiTypes.INT,
                description="The publisher's id (staff, and logins acting for several).",
            ),
        ],
        operation_id="statement_retrieve",
    )
    def get(self, request: Request, month: str) -> Response:
        """Return the statement of `month` (YYYY-MM)."""
        try:
            first_day = month_parse(month)
        except MonthError as error:
            raise ValidationError({"month": [str(error)]}) from error
        publisher = self._publisher(request)
        statement = statement_build(publisher=publisher, month=first_day)
        with timezone.override(statement.zone):  # times with the publisher's offset
            return Response(StatementSerializer(statement_data(statement)).data)

    def _publisher(self, request: Request) -> Publisher:
        """Return the publisher named by `?publisher=`, or the caller's only one."""
        mine = Publisher.objects.for_user(request.user).order_by("pk")
        given = request.query_params.get("publisher")
        if given is None:
            first_two = list(mine[:2])
            if len(first_two) != 1:
                raise ValidationError({"publisher": [ERROR_WHICH]})
            return first_two[0]
        publisher_id = id_or_none(given)
        if publisher_id is None:
            raise ValidationError({"publisher": [ERROR_PUBLISHER]})
        publisher = mine.filter(pk=publisher_id).first()
        if publisher is None:
            raise Http404(NOT_FOUND)
        return publisher
