"""The order list's search and counts at a million orders (issue 21).

The search matches what Django's admin search did with the fields `ship_name`,
`customer_email`, `external_order_id` (contains, any case) and `=lines__external_product_id`
(any line's product id, whole, any case), word by word, every word matching. Django joined the
lines and then made the whole page `DISTINCT`; here each word is one condition on the order
row, its product id arm `id = ANY(ARRAY(lines…))`, so no row is repeated and nothing is
de-duplicated, and on PostgreSQL each arm reads an index (the trigram indexes and the lines'
any-case product id index of migration 0017).

Staff's list of all orders does not count a million rows: `EstimatedCountPaginator` reads
PostgreSQL's estimate of an unfiltered table (`pg_class.reltuples`), and the list says "about
N"; a filtered or searched list is counted exactly.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.contrib.postgres.expressions import ArraySubquery
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import BooleanField, CharField, F, Func, Q, Value
from django.db.models.functions import Concat
from django.db.models.lookups import IContains
from django.utils.text import smart_split, unescape_string_literal

from fulfillment.models import Order, OrderLine

from .base import MAX_SEARCH_LENGTH

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

# Below this many rows an exact count is cheap; above it an unfiltered list is estimated.
ESTIMATE_FROM_ROWS = 100_000


def search_words(search_term: str) -> list[str]:
    """Split a search as Django's admin does: words, a quoted phrase as one word."""
    words = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        words.append(bit)
    return words


def word_matches(word: str, lines: QuerySet[OrderLine]) -> Q:
    """Return the boxes `word` finds: in the name, e-mail or SamCart order id (contains, any
    case), or the whole SamCart product id of any of `lines` (any case, removed lines too)."""
    boxes = lines.filter(external_product_id__iexact=word).order_by().values("order_id")
    if connections[lines.db].vendor != "postgresql":
        found = (
            Q(ship_name__icontains=word)
            | Q(customer_email__icontains=word)
            | Q(external_order_id__icontains=word)
        )
        return found | Q(pk__in=boxes)
    found = (
        Q(ship_name__icontains=word) | email_contains(word) | Q(external_order_id__icontains=word)
    )
    # `id = ANY(ARRAY(…))`: the lines are read once, and the four conditions stay one OR of
    # index scans (trigram indexes, primary key) or a walk of `order_recent` that stops at a
    # page, as PostgreSQL estimates best; `id IN (…)` in an OR allowed neither.
    any_box = Func(
        F("pk"),
        ArraySubquery(boxes),
        template="%(expressions)s)",
        arg_joiner=" = ANY(",
        output_field=BooleanField(),
    )
    return found | Q(any_box)


def email_contains(word: str) -> Q:
    """`customer_email` contains `word` (any case), as PostgreSQL's trigram index finds it fast.

    An address's domain is in most rows ("example.com"), so its trigrams make the index read
    long lists (53 ms for one address at 1,000,000 orders). When `word` has a local part of two
    or more characters before its `@`, the index is asked for "local@" alone (2.6 ms) and the
    whole word is checked on the rows it returns, through an expression the index does not
    cover (`email || ''`), so the planner cannot put the domain back into the index scan. A
    row containing `word` contains "local@", so the rows found are the same.
    """
    local, at, _ = word.partition("@")
    narrow = local + at
    if not at or len(local) < 2 or narrow == word:
        return Q(customer_email__icontains=word)
    unindexed = Concat(F("customer_email"), Value(""), output_field=CharField())
    return Q(customer_email__icontains=narrow) & Q(IContains(unindexed, word))


def search_orders(
    queryset: QuerySet[Order], search_term: str, lines: QuerySet[OrderLine]
) -> QuerySet[Order]:
    """Keep the boxes of `queryset` that every word of `search_term` finds (`word_matches`);
    `lines` are the lines the viewer may see (scoped like `queryset`, so the array of matching
    boxes holds only the viewer's)."""
    for word in search_words(search_term):
        queryset = queryset.filter(word_matches(word, lines))
    return queryset


class EstimatedCountPaginator(Paginator):
    """A paginator that estimates the count of a whole, unfiltered table on PostgreSQL.

    `estimated` tells the template to say "about N". Any filter, search or scope counts
    exactly, as does a table under `ESTIMATE_FROM_ROWS` rows.
    """

    estimated = False

    @cached_property
    def count(self) -> int:
        """Return the estimate for an unfiltered large table, else the exact count."""
        estimate = table_estimate(self.object_list)
        if estimate is not None and estimate >= ESTIMATE_FROM_ROWS:
            self.estimated = True
            return estimate
        return super().count


def table_estimate(queryset: Any) -> int | None:
    """Return PostgreSQL's row estimate of `queryset`'s table when `queryset` has no condition
    (every row), else None (then only a count is right)."""
    query = getattr(queryset, "query", None)
    if query is None or query.where or query.combinator or query.distinct:
        return None
    if query.low_mark or query.high_mark is not None:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return None if row is None or row[0] < 0 else int(row[0])


class OrderSearchMixin:
    """The order list's search and paginator (mixed into `OrderAdmin`)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False  # "N results (Show all)": no second count of every order

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """Search as `search_orders` does; the rows never repeat (no DISTINCT)."""
        if not search_term or len(search_term) > MAX_SEARCH_LENGTH:
            return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        lines = OrderLine.objects.for_user(request.user)
        return search_orders(queryset, search_term, lines), False
