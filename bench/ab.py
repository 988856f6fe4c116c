"""A/B: this checkout's Notify URL against another checkout's, interleaved (prints a table).

This machine's speed drifts by ±30 % between minutes, so two `make bench` runs cannot show a
10 % change. This serves both checkouts at once (each its own gunicorn with the shipped
configuration, its own throw-away database), then runs each target on A, then on B, then B, A,
…, `AB_ROUNDS` times (after one warm-up round), and prints medians: req/s, the ratio to
insert-one-row of the same side, and the machine's CPU time per request (busy time, steal
excluded, divided by the requests answered), which drifts less than req/s.

Run: `git worktree add /tmp/before <commit>`, then
`.venv/bin/python -m bench.ab /tmp/before` (A = that checkout, B = this one). AB_TARGETS
(`|`-separated target names of `bench/run.py`), AB_ROUNDS (6), AB_SECONDS (5), AB_CLIENTS (8).
A benchmark: it asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
NAMES = os.environ.get(
    "AB_TARGETS",
    "insert one row|notify charged, 1 product|notify charged, 3 products"
    "|notify hold, 1 product|notify no_match, 1 product",
).split("|")
ROUNDS = int(os.environ.get("AB_ROUNDS", "6"))
SECONDS = int(os.environ.get("AB_SECONDS", "5"))
CLIENTS = int(os.environ.get("AB_CLIENTS", "8"))


def serve(repo: str, port: str, database: str) -> None:
    """Child: prepare `database`, serve `repo`'s app on `port`, print its Notify URLs, wait."""
    os.environ.update(
        BENCH_DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        BENCH_PORT=port,
        BENCH_CACHE_URL="redis://127.0.0.1:6379/12",
        GUNICORN_MAX_REQUESTS="0",
    )
    sys.path.insert(0, repo)
    os.chdir(repo)
    for name in [m for m in sys.modules if m == "bench" or m.startswith("bench.")]:
        del sys.modules[name]  # this checkout's; import that checkout's own instead
    from bench import run  # that checkout's bench, so its own app and settings

    if Path(repo) != run.ROOT:
        sys.exit(f"serving {run.ROOT}, not {repo}")

    _, paths = run.prepare()
    server = run.Server()
    server.start()
    print(json.dumps(paths), flush=True)
    sys.stdin.read()  # until the parent closes it
    server.stop()


def _busy_ms() -> float:
    """The machine's busy CPU time so far, summed over cores (user, nice, system, irq), in ms."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (
        (fields[0] + fields[1] + fields[2] + fields[5] + fields[6])
        * 1000
        / os.sysconf("SC_CLK_TCK")
    )


def main(before: str) -> None:
    sides = {
        "A": (before, "8801", "trepstar_bench_ab_a"),
        "B": (str(HERE), "8802", "trepstar_bench_ab_b"),
    }
    children, paths = {}, {}
    for side, (repo, port, database) in sides.items():
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.ab", "--serve", repo, port, database],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children[side] = child
        paths[side] = json.loads(child.stdout.readline())  # type: ignore[union-attr]
    os.environ.setdefault(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trepstar_bench_ab"
    )
    from bench import run

    wrk = run.wrk_path()
    rps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    base = 1_000_000_000
    try:
        for round_no in range(ROUNDS + 1):
            for side in ("A", "B") if round_no % 2 == 0 else ("B", "A"):
                run.PORT = int(sides[side][1])
                for target in run.targets(paths[side]):
                    if target.name not in NAMES:
                        continue
                    if target.seed:  # an order bump: the first POSTs it joins, unmeasured
                        run.run_wrk(wrk, target, CLIENTS, base, 2 * SECONDS, products=target.seed)
                        time.sleep(1)
                    start = _busy_ms()
                    figure = run.run_wrk(wrk, target, CLIENTS, base, SECONDS)
                    per_request = (_busy_ms() - start) / max(figure.requests, 1)
                    base += 10_000_000_000
                    if round_no == 0:
                        continue  # warm-up
                    rps.setdefault((target.name, side), []).append(figure.rps)
                    cpu.setdefault((target.name, side), []).append(per_request)
                    print(
                        f"  round {round_no} {side} {target.name:30} {figure.rps:7.0f} req/s"
                        f"  CPU {per_request:5.2f} ms/request  p99 {figure.p99:6.1f} ms"
                        + (f"  !! {figure.bad}" if figure.bad else ""),
                        flush=True,
                    )
    finally:
        for child in children.values():
            child.stdin.close()  # type: ignore[union-attr]
            child.wait()
    insert = {side: statistics.median(rps[("insert one row", side)]) for side in sides}
    print(
        f"\nA = {before}, B = {HERE}; {CLIENTS} clients, {ROUNDS} rounds of {SECONDS} s, medians\n"
    )
    print("| target | A req/s | A × insert | B req/s | B × insert | B/A req/s ", end="")
    print("| A CPU ms | B CPU ms | B/A CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in NAMES:
        a, b = statistics.median(rps[(name, "A")]), statistics.median(rps[(name, "B")])
        ca, cb = statistics.median(cpu[(name, "A")]), statistics.median(cpu[(name, "B")])
        print(
            f"| {name} | {a:,.0f} | {a / insert['A']:.3f}× | {b:,.0f} | {b / insert['B']:.3f}× "
            f"| {b / a:.2f} | {ca:.2f} | {cb:.2f} | {cb / ca:.2f} |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(*sys.argv[2:5])
    elif len(sys.argv) == 2:
        main(os.path.abspath(sys.argv[1]))
    else:
        sys.exit(__doc__)
