"""Pages of the API lists: a page number that is not a page answers 400 naming the range."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from rest_framework.request import Request
    from rest_framework.views import APIView

ERROR_PAGE = "Enter a page number from 1 to {last} (a whole number)."


class Pages(PageNumberPagination):
    """Django REST framework's page numbers, with a 400 instead of a 404 for a bad `page`."""

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        """Return the page, or answer 400 when `page` is not one of the list's pages."""
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as error:
            last = max(1, -(-queryset.count() // self.get_page_size(request)))
            detail = {self.page_query_param: [ERROR_PAGE.format(last=last)]}
            raise ValidationError(detail) from error
