"""Instructions per request, counted by callgrind: a figure machine load cannot disturb.

``python -m harness.instructions [--configs bare,...,pagefloor] [--requests 100,300] [--src DIR] [--jobs N]``

Each configuration runs twice under ``valgrind --tool=callgrind`` in a process
of its own: Django set up, 50 warm-up requests, then N requests through the
WSGI handler, for two values of N. The difference of the two totals divided by
the difference of N is the instructions of one warm request, with start-up and
warm-up cancelled out; a configuration's overhead is that figure minus its
baseline's (``bare``, ``litebare`` for ``lite*``, ``pagebare`` for ``page*``).
The same binary, inputs and environment give the same count whatever else the
machine is doing, so two commits can be compared run against run.

Two pages: the small JSON view (``GET /data/``) for the plain names, and the
example project's task list for the ``page*`` names (``GET /orgs/acme/tasks/``
as the logged-in demo user, with the session cookie: five queries and a
template, on a scratch SQLite database prepared once by ``harness.page``,
checked to answer 200 with the list before anything is counted).

Pass ``--src DIR`` to count another checkout's ``src`` (put first on
``PYTHONPATH``), e.g. a worktree of a branch or of the commit before a change;
the bench, the example project and the database stay this checkout's.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS = BENCH_DIR / "results"
# The small JSON view, then the same set on the example's task list (issue 21).
TINY_CONFIGS = ["bare", "chapter", "lantern", "lanternotel", "peers", "floor"]
PAGE_CONFIGS = ["pagebare", "pagechapter", "page", "pageotel", "pagepeers", "pagefloor"]
DEFAULT_REQUESTS = {"tiny": (100, 300), "page": (40, 120)}
WARM_UP = {"tiny": 50, "page": 20}
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def page_kind(config: str) -> str:
    return "page" if config.startswith("page") else "tiny"


def baseline(config: str) -> str:
    """The configuration a configuration's overhead is counted against."""
    if config.startswith("lite"):
        return "litebare"
    return "pagebare" if page_kind(config) == "page" else "bare"


def _child(config: str, n: int) -> None:
    """The counted process: set up, check one answer, warm up, then ``n`` requests; prints nothing on stdout."""
    from harness import drive
    from harness.djsetup import setup

    setup(config)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    kind = page_kind(config)
    if kind == "page":
        from harness.page import EXPECTED, PATH

        env = drive.environ(PATH, headers={"Cookie": os.environ["BENCH_COOKIE"]})
        env["HTTP_ACCEPT"] = "text/html"
    else:
        EXPECTED, env = "", drive.environ("/data/")
    # The same answer every configuration must give, checked before anything is counted.
    capture = drive.Capture()
    body = drive.wsgi_once(app, env, capture).decode("utf-8", "replace")
    if not capture.status.startswith("200") or EXPECTED not in body:
        raise SystemExit(f"{config}: answered {capture.status!r} without the expected page")
    drive.wsgi_batch(app, itertools.repeat(env), WARM_UP[kind])  # type: ignore[arg-type]
    drive.wsgi_batch(app, itertools.repeat(env), n)  # type: ignore[arg-type]


def _env(src: Path | None, scratch: Path, cookie: str | None) -> dict[str, str]:
    path = [str(src)] if src else []
    env = {
        **os.environ,
        "BENCH_TMP": str(scratch),
        "PYTHONPATH": os.pathsep.join([*path, str(BENCH_DIR)]),
        "PYTHONHASHSEED": "0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if cookie:
        env["BENCH_COOKIE"] = cookie
    return env


def prepare_page(src: Path | None, scratch: Path) -> str:
    """The task list's scratch database (migrated, seeded, the demo user logged in); returns the cookie."""
    completed = subprocess.run(
        [sys.executable, "-m", "harness.page"],
        capture_output=True,
        text=True,
        env=_env(src, scratch, None),
        cwd=BENCH_DIR,
        timeout=600,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"preparing the task list failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    cookie: str = json.loads(lines[-1])["cookie"]
    return cookie


def count(config: str, n: int, src: Path | None, scratch: Path, cookie: str | None = None) -> int:
    """Instructions executed by one child process running ``n`` requests after the warm-up."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
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
    env = _env(src, scratch, cookie)
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=BENCH_DIR, timeout=3600)
    match = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"{config} n={n} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    out.unlink(missing_ok=True)
    return int(match.group(1))


def measure(
    configs: list[str],
    requests: dict[str, tuple[int, int]] | None = None,
    src: Path | None = None,
    jobs: int = 2,
) -> dict[str, Any]:
    """``{"configs": {config: {"per_request", "overhead", "baseline"}}, "failed": {config: why}, ...}``."""
    requests = {**DEFAULT_REQUESTS, **(requests or {})}
    wanted = list(dict.fromkeys([*{baseline(c) for c in configs if baseline(c) != c}, *configs]))
    totals: dict[tuple[str, int], int] = {}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lantern-callgrind-") as tmp:
        scratch = Path(tmp)
        cookie = prepare_page(src, scratch) if any(page_kind(c) == "page" for c in wanted) else None
        runs = [(config, n) for config in wanted for n in requests[page_kind(config)]]

        def one(run: tuple[str, int]) -> None:
            config, n = run
            try:
                totals[run] = count(config, n, src, scratch, cookie)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                failed[config] = str(exc).strip().splitlines()[-1][:300]

        # Counts do not depend on what runs beside them: run a few at once for the wall time.
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(one, runs))
    per_request: dict[str, float] = {}
    for config in wanted:
        low, high = requests[page_kind(config)]
        if (config, low) in totals and (config, high) in totals:
            per_request[config] = (totals[(config, high)] - totals[(config, low)]) / (high - low)
    results: dict[str, dict[str, Any]] = {}
    for config in configs:
        base = baseline(config)
        if config not in per_request:
            continue
        overhead = per_request[config] - per_request[base] if base in per_request else None
        results[config] = {
            "per_request": round(per_request[config]),
            "overhead": None if overhead is None else round(overhead),
            "baseline": base,
        }
    return {
        "requests": {kind: list(pair) for kind, pair in requests.items()},
        "src": str(src) if src else None,
        "configs": results,
        "failed": {c: why for c, why in failed.items() if c in configs or c in {baseline(x) for x in configs}},
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    from harness import machine
    from harness.report import instructions_section

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--configs", default=",".join(TINY_CONFIGS + PAGE_CONFIGS))
    parser.add_argument("--requests", default="100,300", help="the two request counts of the small view, low,high")
    parser.add_argument("--page-requests", default="40,120", help="the two request counts of the task list")
    parser.add_argument("--src", type=Path, default=None, help="count this checkout's src instead")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind processes at once (counts are unaffected)")
    parser.add_argument("--out", type=Path, default=RESULTS / "instructions.json", help="'-' to write no file")
    args = parser.parse_args()
    pairs = {
        kind: tuple(int(n) for n in value.split(","))
        for kind, value in (("tiny", args.requests), ("page", args.page_requests))
    }
    src = args.src.resolve() if args.src else None
    results = measure([c for c in args.configs.split(",") if c], pairs, src, args.jobs)  # type: ignore[arg-type]
    results["machine"] = machine.describe()
    if src is not None:
        results["machine"]["src_commit"] = machine.git_commit(src)
    if str(args.out) != "-":
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    print("\n".join(instructions_section(results)))


if __name__ == "__main__":
    main()
