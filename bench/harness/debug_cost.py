"""What one ``logger.debug(...)`` call costs with ``LANTERN["DEBUG_ON_ERROR"]``, in instructions and µs.

``python -m harness.debug_cost [--n 2000,6000] [--src DIR] [--no-time]``

The logger is at INFO (the ``lantern`` configuration's ``LOGGING``), and the
call is ``logger.debug("row %s of %s", i, "orders")``. Three cases:

- ``stock``: the setting off, inside a request's context: Python's own
  ``Logger.debug``, which returns at ``isEnabledFor`` (the floor);
- ``held``: the setting on, inside a run that holds a buffer, and the run ends
  well, so its calls are dropped unformatted: runs of 200 calls (the default
  buffer), each opened with ``begin`` and closed with ``settle(keep=False)``,
  so the figure includes a share of both;
- ``outside``: the setting on, outside any request or task run (a management
  command, start-up): the patched method finds no buffer;
- ``record``: the design not taken, for comparison: the logger at DEBUG, so
  every call builds a ``LogRecord``, which a handler's filter then drops.

Each case runs N calls after a warm-up, for two values of N, each in its own
process under ``valgrind --tool=callgrind``; the difference of the two totals
over the difference of N is one call's instructions, start-up cancelled out.
The timed figure is the same loop without valgrind, best of 7 rounds of
20,000 calls (machine load disturbs it, the instruction count not).
"""

from __future__ import annotations

import argparse
import gc
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.query_cost import _env, best_micros

BENCH_DIR = Path(__file__).resolve().parent.parent
CASES = ("stock", "held", "outside", "record")
RUN = 200  # calls per run in ``held``: the default DEBUG_ON_ERROR_RECORDS
WARM_UP = 2 * RUN
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _loop(case: str) -> Callable[[int], None]:
    """Django set up (``lantern``), the case prepared and warmed; the loop of ``n`` calls (a multiple of RUN)."""
    from harness.djsetup import setup

    setup("lantern")
    from django_lantern.context import RequestContext, current
    from django_lantern.logging import _held

    logger = logging.getLogger("bench.debug_cost")
    assert not logger.isEnabledFor(logging.DEBUG) and logger.isEnabledFor(logging.INFO)
    if case == "record":
        dropping = logging.NullHandler()
        dropping.addFilter(lambda record: False)
        logger.addHandler(dropping)
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
    ctx = RequestContext("bench-request-id", "GET", "/orders/", None)
    if case != "outside":
        current.set(ctx)
    if case in ("held", "outside"):
        _held.install()
    debug = logger.debug

    def plain(n: int) -> None:
        for i in range(n):
            debug("row %s of %s", i, "orders")

    def runs(n: int) -> None:
        begin, settle = _held.begin, _held.settle
        for _ in range(n // RUN):
            begin(ctx, RUN)
            for i in range(RUN):
                debug("row %s of %s", i, "orders")
            settle(ctx, False)

    loop = runs if case == "held" else plain
    loop(WARM_UP)
    gc.collect()
    gc.freeze()
    return loop


def _child(case: str, n: int) -> None:
    _loop(case)(n)


def _timed(case: str, n: int) -> None:
    print(f"{best_micros(_loop(case), n):.3f}")


def count(case: str, n: int, src: Path | None, scratch: Path) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    out = scratch / f"callgrind.{case}.{n}"
    command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    command += ["-m", "harness.debug_cost", "--child", case, str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(src, scratch), cwd=BENCH_DIR, check=False)
    match = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"{case} n={n} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return int(match.group(1))


def timed(case: str, n: int, src: Path | None, scratch: Path) -> float:
    command = [sys.executable, "-m", "harness.debug_cost", "--timed", case, str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=_env(src, scratch), cwd=BENCH_DIR, check=True)
    return float(result.stdout.split()[-1])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] in ("--child", "--timed"):
        (_child if sys.argv[1] == "--child" else _timed)(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="2000,6000", help="the two call counts, low,high (multiples of 200)")
    parser.add_argument("--src", type=Path, default=None, help="count this checkout's src instead")
    parser.add_argument("--no-time", action="store_true", help="instructions only")
    args = parser.parse_args()
    low, high = (int(n) for n in args.n.split(","))
    with tempfile.TemporaryDirectory(prefix="lantern-debug-cost-") as tmp:
        scratch = Path(tmp)
        per = {c: (count(c, high, args.src, scratch) - count(c, low, args.src, scratch)) / (high - low) for c in CASES}
        micros = {} if args.no_time else {c: timed(c, 20_000, args.src, scratch) for c in CASES}
    print("| case | instructions per call | µs per call (best of 7) |")
    print("| --- | ---: | ---: |")
    for case in CASES:
        print(f"| {case} | {per[case]:,.0f} | {micros.get(case, float('nan')):.2f} |")


if __name__ == "__main__":
    main()
