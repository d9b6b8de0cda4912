"""What lantern adds to one database query, in instructions (callgrind) and microseconds.

``python -m harness.query_cost [--what query|connection|scoped] [--n 200,600] [--src DIR] [--no-time]``

Each configuration (``bare``, ``lantern``) runs ``SELECT 1`` on one SQLite
cursor, outside any request, N times after a warm-up, for two values of N,
each in its own process under ``valgrind --tool=callgrind``; the difference
of the two totals over the difference of N is one query's instructions,
start-up cancelled out. ``lantern`` minus ``bare`` is the per-query
accounting (the execute wrapper and its histogram observation). With
``--what connection`` the loop opens and closes the connection instead
(``connection_created``: the wrapper check and the connection counter).
With ``--what scoped`` the queries run inside a query-insights scope, as a
request's do (lantern only): over ``query``, that is the N+1 fingerprinting
(the fingerprint looked up by statement text and counted; the statement
repeats, so past the threshold, as in an N+1).
The timed figure is the same loop without valgrind, best of 7 rounds:
machine load disturbs it, the instruction count not. The objects left by
start-up and the warm-up are frozen out of the garbage collector's scans
(``gc.freeze``), so a full collection cannot land in one run and not the other.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
CONFIGS = ("bare", "lantern")
WARM_UP = 100
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _loop(config: str, what: str) -> Callable[[int], None]:
    """Django set up and warmed; returns the loop of ``n`` queries or connections."""
    from harness.djsetup import setup

    setup(config)
    from django.db import connection

    cursor = connection.cursor()

    def queries(n: int) -> None:
        for _ in range(n):
            cursor.execute("SELECT 1")

    def connections(n: int) -> None:
        for _ in range(n):
            connection.ensure_connection()
            connection.close()

    if what == "scoped":
        from django_lantern.metrics import _insights

        _insights.begin()  # never ended: the loop is the scope's whole life
    loop = connections if what == "connection" else queries
    loop(WARM_UP)
    # What Django and the warm-up left is moved out of the collector's reach: a
    # full collection landing in one run and not the other would otherwise
    # weigh more than the few thousand instructions measured.
    gc.collect()
    gc.freeze()
    return loop


def _child(config: str, what: str, n: int) -> None:
    _loop(config, what)(n)


def _timed(config: str, what: str, n: int) -> None:
    """Prints the best microseconds per iteration of 7 rounds of ``n``."""
    loop = _loop(config, what)
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter()
        loop(n)
        best = min(best, (time.perf_counter() - start) / n)
    print(f"{best * 1e6:.3f}")


def _env(src: Path | None, scratch: Path) -> dict[str, str]:
    path = [str(src)] if src else []
    return {
        **os.environ,
        "BENCH_TMP": str(scratch),
        "PYTHONPATH": os.pathsep.join([*path, str(BENCH_DIR)]),
        "PYTHONHASHSEED": "0",
    }


def count(config: str, what: str, n: int, src: Path | None, scratch: Path) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    out = scratch / f"callgrind.{config}.{what}.{n}"
    command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    command += ["-m", "harness.query_cost", "--child", config, what, str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(src, scratch), cwd=BENCH_DIR, check=False)
    match = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"{config} n={n} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return int(match.group(1))


def timed(config: str, what: str, n: int, src: Path | None, scratch: Path) -> float:
    command = [sys.executable, "-m", "harness.query_cost", "--timed", config, what, str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(src, scratch), cwd=BENCH_DIR, check=True)
    return float(result.stdout.split()[-1])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] in ("--child", "--timed"):
        (_child if sys.argv[1] == "--child" else _timed)(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("query", "connection", "scoped"), default="query")
    parser.add_argument("--n", default="200,600", help="the two loop counts, low,high")
    parser.add_argument("--src", type=Path, default=None, help="count this checkout's src instead")
    parser.add_argument("--no-time", action="store_true", help="instructions only")
    args = parser.parse_args()
    low, high = (int(n) for n in args.n.split(","))
    what = args.what
    if what == "scoped":
        return _scoped(low, high, args.src, args.no_time)
    with tempfile.TemporaryDirectory(prefix="lantern-query-cost-") as tmp:
        scratch = Path(tmp)
        per = {
            c: (count(c, what, high, args.src, scratch) - count(c, what, low, args.src, scratch)) / (high - low)
            for c in CONFIGS
        }
        micros = {} if args.no_time else {c: timed(c, what, 2000, args.src, scratch) for c in CONFIGS}
    print(f"| configuration | instructions per {what} | µs per {what} (best of 7) |")
    print("| --- | ---: | ---: |")
    for config in CONFIGS:
        print(f"| {config} | {per[config]:,.0f} | {micros.get(config, float('nan')):.2f} |")
    extra_us = micros["lantern"] - micros["bare"] if micros else float("nan")
    print(f"| lantern's accounting | {per['lantern'] - per['bare']:,.0f} | {extra_us:.2f} |")


def _scoped(low: int, high: int, src: Path | None, no_time: bool) -> None:
    """lantern's query outside any scope, then inside one: the difference is the N+1 fingerprinting."""
    whats = ("query", "scoped")
    with tempfile.TemporaryDirectory(prefix="lantern-query-cost-") as tmp:
        scratch = Path(tmp)
        per = {
            w: (count("lantern", w, high, src, scratch) - count("lantern", w, low, src, scratch)) / (high - low)
            for w in whats
        }
        micros = {} if no_time else {w: timed("lantern", w, 2000, src, scratch) for w in whats}
    print("| lantern, one query | instructions | µs (best of 7) |")
    print("| --- | ---: | ---: |")
    for w, label in zip(whats, ("outside any scope", "in a request's scope"), strict=True):
        print(f"| {label} | {per[w]:,.0f} | {micros.get(w, float('nan')):.2f} |")
    extra_us = micros["scoped"] - micros["query"] if micros else float("nan")
    print(f"| N+1 fingerprinting | {per['scoped'] - per['query']:,.0f} | {extra_us:.2f} |")


if __name__ == "__main__":
    main()
