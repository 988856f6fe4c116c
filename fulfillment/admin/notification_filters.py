"""Filters of the notification list: accepted by default, refused one click away, stuck ones.

SPEC §4: a flood of wrong-key requests must not drown a publisher's log, so the list shows
accepted notifications unless `?refused=1` asks for the refused ones, and its header counts
the refused requests of the last 24 hours. SPEC §16 of issue 8: a notification stored but
never processed is listed as stuck after a minute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import build_q_object_from_lookup_parameters
from django.core.exceptions import ValidationError

from fulfillment.models import Outcome, is_trepstar_staff

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.contrib.admin.views.main import ChangeList
    from django.db.models import QuerySet
    from django.http import HttpRequest

REFUSED_PARAM = "refused"
STUCK_PARAM = "stuck"
STUCK_LABEL = "stuck (never processed)"
# Outcomes a publisher's own notifications never have: a request naming no known publisher
# belongs to nobody, so only staff are offered it.
STAFF_ONLY_OUTCOMES = frozenset({Outcome.UNKNOWN_PUBLISHER})


class KeyCheckFilter(admin.SimpleListFilter):
    """Accepted requests by default; `?refused=1` the ones refused for a wrong key."""

    title = "key check"
    parameter_name = REFUSED_PARAM

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        """Offer the refused requests and everything, beside the default (accepted)."""
        return [("1", "refused (wrong key)"), ("all", "all requests")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Keep accepted notifications unless refused ones (or all) are asked for."""
        if self.value() == "1":
            return queryset.key_refused()
        if self.value() == "all":
            return queryset
        return queryset.accepted()

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        """Name the default choice "accepted" (Django calls it "All")."""
        yield {
            "selected": self.value() not in ("1", "all"),
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "accepted",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class OutcomeFilter(admin.ChoicesFieldListFilter):
    """The outcome filter, plus "stuck": stored over a minute ago and never processed."""

    def __init__(
        self, field: Any, request: HttpRequest, params: dict, *args: Any, **kwargs: Any
    ) -> None:
        self.stuck = params.get(STUCK_PARAM, [""])[-1] == "1"
        self.staff = is_trepstar_staff(request.user)
        super().__init__(field, request, params, *args, **kwargs)

    def expected_parameters(self) -> list[str]:
        """Claim `stuck` as well as the field's own parameters."""
        return [*super().expected_parameters(), STUCK_PARAM]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Filter by outcome, or keep the stuck notifications."""
        params = {k: v for k, v in self.used_parameters.items() if k != STUCK_PARAM}
        if self.stuck:
            queryset = queryset.stuck()
        try:
            return queryset.filter(build_q_object_from_lookup_parameters(params))
        except (ValueError, ValidationError) as error:
            raise IncorrectLookupParameters(error) from error

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        """List every outcome, then "stuck"; each choice replaces the others."""
        others = [self.lookup_kwarg, self.lookup_kwarg_isnull, STUCK_PARAM]
        chosen = None if self.stuck or self.lookup_val is None else self.lookup_val
        yield {
            "selected": chosen is None and not self.stuck,
            "query_string": changelist.get_query_string(remove=others),
            "display": "All",
        }
        for value, title in self.field.flatchoices:
            if value in STAFF_ONLY_OUTCOMES and not self.staff:
                continue
            yield {
                "selected": chosen is not None and str(value) in chosen,
                "query_string": changelist.get_query_string({self.lookup_kwarg: value}, others),
                "display": title,
            }
        yield {
            "selected": self.stuck,
            "query_string": changelist.get_query_string({STUCK_PARAM: "1"}, others),
            "display": STUCK_LABEL,
        }
