"""Instructions per request, counted by callgrind: a figure machine load cannot disturb.

``python -m harness.instructions [--configs bare,chapter,lantern] [--requests 100,300]``

Each configuration runs twice under ``valgrind --tool=callgrind`` in a process
of its own: Django set up, 50 warm-up requests, then N requests of the small
JSON view through the WSGI handler, for two values of N. The difference of the
two totals divided by the difference of N is the instructions of one warm
request, with start-up and warm-up cancelled out; a configuration's overhead
is that figure minus its baseline's (``bare``, or ``litebare`` for ``lite*``).
The same binary, inputs and environment give the same count whatever else the
machine is doing, so two commits can be compared run against run.

Pass ``--src DIR`` to count another checkout's ``src`` (put first on
``PYTHONPATH``), e.g. a worktree of the commit before a change.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.inproc import baseline

BENCH_DIR = Path(__file__).resolve().parent.parent
WARM_UP = 50
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _child(config: str, n: int) -> None:
    """The counted process: set up, warm up, then ``n`` requests; prints nothing on stdout."""
    from harness import drive
    from harness.djsetup import setup

    setup(config)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    env = drive.environ("/data/")
    drive.wsgi_batch(app, itertools.repeat(env), WARM_UP)  # type: ignore[arg-type]
    drive.wsgi_batch(app, itertools.repeat(env), n)  # type: ignore[arg-type]


def count(config: str, n: int, src: Path | None, scratch: Path) -> int:
    """Instructions executed by one child process running ``n`` requests after the warm-up."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    path = [str(src)] if src else []
    env = {
        **os.environ,
        "BENCH_TMP": str(scratch),
        "PYTHONPATH": os.pathsep.join([*path, str(BENCH_DIR)]),
        "PYTHONHASHSEED": "0",
    }
    out = scratch / f"callgrind.{config}.{n}"
    command = [
        valgrind,
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "harness.instructions",
        "--child",
        config,
        str(n),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=BENCH_DIR, timeout=1800)
    match = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"{config} n={n} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return int(match.group(1))


def per_request(config: str, low: int, high: int, src: Path | None, scratch: Path) -> float:
    return (count(config, high, src, scratch) - count(config, low, src, scratch)) / (high - low)


def measure(configs: list[str], low: int, high: int, src: Path | None) -> dict[str, dict[str, float]]:
    """``{config: {"per_request": ..., "overhead": ...}}`` in instructions."""
    wanted = list(dict.fromkeys([*{baseline(c) for c in configs if baseline(c) != c}, *configs]))
    with tempfile.TemporaryDirectory(prefix="lantern-callgrind-") as tmp:
        counts = {config: per_request(config, low, high, src, Path(tmp)) for config in wanted}
    return {
        config: {"per_request": round(counts[config]), "overhead": round(counts[config] - counts[baseline(config)])}
        for config in configs
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="bare,chapter,lantern")
    parser.add_argument("--requests", default="100,300", help="the two request counts, low,high")
    parser.add_argument("--src", type=Path, default=None, help="count this checkout's src instead")
    args = parser.parse_args()
    low, high = (int(n) for n in args.requests.split(","))
    results = measure([c for c in args.configs.split(",") if c], low, high, args.src)
    print(json.dumps(results, indent=2))
    print("\n| configuration | instructions per request | overhead over its baseline |")
    print("| --- | ---: | ---: |")
    for config, figures in results.items():
        print(f"| {config} | {figures['per_request']:,} | {figures['overhead']:,} |")


if __name__ == "__main__":
    main()
