"""Benchmark the Notify URL over real HTTP: distinct purchases from N client threads.

Prints requests/s and latency percentiles; asserts nothing (a benchmark, not a test).

    python scripts/bench_notify.py --url 'http://127.0.0.1:8000/samcart/notify/?idpub=…&key=…' \
        --requests 2000 --threads 8 --product 279813
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "tests/fixtures/samcart/order_products_array.json"


def main() -> None:
    """Post the requests, then print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--product", default="279813")
    parser.add_argument("--first-order-id", type=int, default=int(time.time()) * 1000)
    args = parser.parse_args()

    template = json.loads(SAMPLE.read_text())
    template["products"][0]["id"] = args.product
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    counter = iter(range(args.requests))

    def worker() -> None:
        for n in counter:
            template_copy = dict(
                template, order=dict(template["order"], id=args.first_order_id + n)
            )
            data = json.dumps(template_copy).encode()
            request = urllib.request.Request(  # noqa: S310 (the operator's own URL)
                args.url, data=data, headers={"Content-Type": "application/json"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    pct = {
        p: latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] for p in (50, 95, 99)
    }
    print(
        f"{len(latencies)} requests in {wall:.2f} s with {args.threads} threads: "
        f"{len(latencies) / wall:.0f} notifications/s"
    )
    print(
        f"latency p50 {pct[50] * 1000:.1f} ms, p95 {pct[95] * 1000:.1f} ms, "
        f"p99 {pct[99] * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms"
    )
    print(f"statuses: {dict(statuses)}")


if __name__ == "__main__":
    main()
