"""Issue 21, target 2 (`make bench` runs it): a flash sale on the Notify URL, and its check.

FLASH_CLIENTS (32) connections for FLASH_SECONDS (20) post charged one-product purchases to the
funded publisher, of which 1 in 10 resends a purchase sent 7 requests earlier (often still in
flight on another connection: a racing duplicate) and 1 in 10 sells a product no project
maps (`MIX=flash` in `bench/notify.lua`). Insert-one-row runs as long at the same clients,
interleaved, for the ratio. After each sale the database must show: every answer stored, no
`error` or `pending`, each SamCart order id exactly one box with its one line, one charge each
and the balance moved by exactly their sum.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from decimal import Decimal

from bench import run

CLIENTS = int(os.environ.get("FLASH_CLIENTS", "32"))
SECONDS = int(os.environ.get("FLASH_SECONDS", "20"))
EXPECTED = {"created", "duplicate", "no_match"}


def flash_check(*, since: int, publisher_path: str, balance_before: Decimal, answered: int) -> str:
    """Return what the database shows of the sale since notification `since`, or why it is
    wrong (a line starting with "!!")."""
    from django.db.models import Count, Sum

    from fulfillment.models import LedgerEntry, Notification, Order, OrderLine, Publisher

    idpub = publisher_path.split("idpub=")[1].split("&")[0]
    publisher = Publisher.objects.get(idpub=idpub)
    notes = Notification.objects.filter(pk__gt=since, publisher=publisher)
    outcomes = Counter(dict(notes.values_list("outcome").annotate(n=Count("id"))))
    sold = set(
        notes.filter(outcome__in=["created", "duplicate"]).values_list(
            "external_order_id", flat=True
        )
    )
    boxes = Order.objects.filter(publisher=publisher, external_order_id__in=sold)
    per_id = Counter(boxes.values_list("external_order_id", flat=True))
    lines = OrderLine.objects.filter(order__in=boxes).count()
    charges = LedgerEntry.objects.filter(order__in=boxes, kind="charge")
    charged = -(charges.aggregate(s=Sum("amount"))["s"] or Decimal(0))
    cost = boxes.aggregate(s=Sum("cost"))["s"] or Decimal(0)
    moved = balance_before - publisher.balance
    statuses = set(boxes.values_list("status", flat=True))
    stored = sum(outcomes.values())
    problems = []
    if set(outcomes) - EXPECTED:
        problems.append(f"outcomes {dict(outcomes)}")
    if stored < answered:
        problems.append(f"{answered} answered but {stored} stored")
    if len(per_id) != len(sold) or any(n != 1 for n in per_id.values()):
        doubled = sum(1 for n in per_id.values() if n > 1)
        problems.append(f"{len(sold)} sold, {len(per_id)} with a box, {doubled} doubled")
    if outcomes["created"] != len(sold) or lines != len(sold):
        problems.append(f"{outcomes['created']} created, {lines} lines for {len(sold)} sold")
    if charges.count() != len(per_id) or charged != cost or moved != cost:
        problems.append(f"charged {charged}, boxes cost {cost}, balance moved {moved}")
    if statuses - {"scheduled"}:
        problems.append(f"boxes in {sorted(statuses)}")
    summary = (
        f"{stored:,d} stored ({answered:,d} answered): {outcomes['created']:,d} created, "
        f"{outcomes['duplicate']:,d} duplicate, {outcomes['no_match']:,d} no_match; "
        f"{len(per_id):,d} boxes, {lines:,d} lines, charged ${charged:,.2f} = balance moved "
        f"${moved:,.2f}"
    )
    return f"!! {'; '.join(problems)} ({summary})" if problems else f"ok: {summary}"


def flash_sale(wrk: str, paths: dict[str, str], rounds: int) -> None:
    """Run the sale `rounds` times beside insert-one-row; print the runs and the table."""
    from fulfillment.models import Publisher

    funded = paths["funded"]
    idpub = funded.split("idpub=")[1].split("&")[0]
    sale = run.Target("flash sale", funded, run.ONE, "created")
    reference = run.Target("insert one row", "/bench/insert/")
    print(f"\nFlash sale: {CLIENTS} clients, {SECONDS} s, 10 % resends, 10 % no_match:")
    sales, inserts, checks = [], [], []
    for n in range(rounds):
        inserts.append(run.run_wrk(wrk, reference, CLIENTS, 0, SECONDS))
        since = run.last_notification()
        before = Publisher.objects.get(idpub=idpub).balance
        figure = run.run_wrk(
            wrk, sale, CLIENTS, 20_000_000_000_000 + n * 10**10, SECONDS, mix="flash"
        )
        time.sleep(2)  # the answers wrk cut off at the end finish before the check
        check = flash_check(
            since=since, publisher_path=funded, balance_before=before, answered=figure.requests
        )
        if figure.bad:
            check = f"!! {figure.bad}; {check}"
        sales.append(figure)
        checks.append(check)
        print(
            f"  round {n + 1}: insert one row {inserts[-1].rps:6.0f} req/s; sale "
            f"{figure.rps:6.0f} req/s p50 {figure.p50:6.1f} ms p99 {figure.p99:6.1f} ms\n"
            f"    database: {check}",
            flush=True,
        )
    print(f"\n### Flash sale ({CLIENTS} clients, {SECONDS} s, medians of {rounds})\n")
    print("| target | req/s | vs insert-one-row | p50 ms | p99 ms | database check |")
    print("|---|---|---|---|---|---|")
    insert = statistics.median(f.rps for f in inserts)
    sale_median = run.median(sales)
    ok = all(c.startswith("ok") for c in checks)
    print(f"| insert one row | {insert:,.0f} | 1.000× | | | |")
    print(
        f"| flash sale | {sale_median.rps:,.0f} | {sale_median.rps / insert:.3f}× | "
        f"{sale_median.p50:.1f} | {sale_median.p99:.1f} | "
        f"{'ok in every round' if ok else 'FAILED: see the rounds above'} |"
    )
