"""Instructions per request, counted by callgrind: a figure machine load cannot disturb.

``python -m harness.instructions [--configs bare,...,pagefloor] [--requests 200] [--src DIR] [--jobs N]``

Each configuration runs under ``valgrind --tool=callgrind --instr-atstart=no``
in a process of its own: Django set up and warm-up requests with callgrind's
instrumentation off (a few times faster than with it on), then
``callgrind_control -i on``, N requests through the WSGI handler, ``-i off``.
The count divided by N is the instructions of one warm request, start-up and
warm-up left out (the hand-shake around the N requests adds a few thousand
instructions in all). The heap built before the window is frozen
(``gc.freeze()``), so whether a full collection of it happens to fall inside
one configuration's window cannot swing the comparison; a configuration's overhead is that figure minus its
baseline's (``bare``, ``litebare`` for ``lite*``, ``pagebare`` for ``page*``).
The same binary, inputs and environment give the same count whatever else the
machine is doing, so two commits can be compared run against run.

Nothing counted may depend on valgrind's pace. A request runs a few hundred
times slower under callgrind than at full speed, so lantern's wall-clock
thresholds are scaled by ``VALGRIND_PACE`` before the warm-up
(``djsetup.setup``'s ``pace``): a counted request takes the path a request of
the same page takes on a server, never the slow request's WARNING line and
record for the operations page.

Only the thread that serves the requests is counted (callgrind's
``--separate-threads=yes``, thread 1). Every configuration counted here does
its per-request work in that thread: the access line is written there
(``nonblocking=False``) and spans are exported there (``SimpleSpanProcessor``).
The other threads run on a clock, not per request: on the task list, the
operations page's flush thread (a batch every five seconds, a heartbeat, and
once a minute a snapshot of the metrics registry, about five million
instructions). Under valgrind a request takes about a second, so how many of
those rounds fall in the window depends on how long valgrind takes, which
made the task list's figure swing by tens of thousands of instructions a
request (more with ``--jobs 2`` than alone). Their count is kept beside the
figure (``other_threads``, in the whole window), never added to it.

Two pages: the small JSON view (``GET /data/``) for the plain names, and the
example project's task list for the ``page*`` names (``GET /orgs/acme/tasks/``
as the logged-in demo user, with the session cookie: five queries and a
template, on a scratch SQLite database prepared once by ``harness.page``,
checked to answer 200 with the list before anything is counted).

Pass ``--src DIR`` to count another checkout's ``src`` (put first on
``PYTHONPATH``), e.g. a worktree of a branch or of the commit before a change;
the bench, the example project and the database stay this checkout's.

Pass ``--annotate DIR`` to see where the instructions go: each configuration's
callgrind file is kept in DIR with ``callgrind_annotate``'s listing by
function beside it, inclusive (``<config>.inclusive.txt``) and exclusive
(``<config>.exclusive.txt``); another thread's are named
``<config>.thread-NN.*``. The functions are the interpreter's C
functions (``_PyEval_EvalFrameDefault`` is the bytecode itself); C calls
such as ``os.urandom``, ``json``/``orjson``, ``ContextVar.set`` or a regular
expression show under their own names.
"""

from __future__ import annotations

import argparse
import gc
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
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS = BENCH_DIR / "results"
# The small JSON view, then the same set on the example's task list (issue 21).
TINY_CONFIGS = ["bare", "chapter", "lantern", "lanternotel", "peers", "floor"]
PAGE_CONFIGS = ["pagebare", "pagechapter", "page", "pageotel", "pagepeers", "pagefloor"]
DEFAULT_REQUESTS = {"tiny": 200, "page": 60}
WARM_UP = {"tiny": 50, "page": 20}
# More than the times slower a request runs under callgrind than at full speed (a task
# list's request: about a second, against a few milliseconds), with room to spare.
VALGRIND_PACE = 1000
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
_TOTALS = re.compile(r"^totals:\s*(\d+)", re.MULTILINE)


def page_kind(config: str) -> str:
    return "page" if config.startswith("page") else "tiny"


def baseline(config: str) -> str:
    """The configuration a configuration's overhead is counted against."""
    if config.startswith("lite"):
        return "litebare"
    return "pagebare" if page_kind(config) == "page" else "bare"


def _child(config: str, n: int) -> None:
    """The counted process: set up, check one answer, warm up, then ``n`` requests between two hand-shakes
    on stdin/stdout (the parent turns callgrind's instrumentation on and off around them)."""
    from harness import drive
    from harness.djsetup import setup

    setup(config, pace=VALGRIND_PACE)
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
    # Freeze what set-up and warm-up built: otherwise a full collection of that heap (about 18
    # million instructions) lands in one configuration's window and not in another's, and
    # swings a small view's figure by 90,000 per request. The requests' own garbage is still collected.
    gc.collect()
    gc.freeze()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    drive.wsgi_batch(app, itertools.repeat(env), n)  # type: ignore[arg-type]
    sys.stdout.write("done\n")
    sys.stdout.flush()
    sys.stdin.readline()


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


def _toggle(pid: int, state: str) -> None:
    """Instrumentation on or off in a running valgrind (through vgdb, while the child waits on stdin)."""
    command = ["callgrind_control", "-i", state, str(pid)]
    subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)


def _expect(stream: IO[str], word: str) -> None:
    for line in stream:
        if line.strip() == word:
            return
    raise RuntimeError(f"the child ended before saying {word!r}")


def count(
    config: str, n: int, src: Path | None, scratch: Path, cookie: str | None = None, annotate: Path | None = None
) -> tuple[int, int]:
    """Instructions executed by ``n`` requests of one child process, after its set-up and warm-up:
    in the thread that served them, and in all its other threads during the same window."""
    valgrind = shutil.which("valgrind")
    if valgrind is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    out = scratch / f"callgrind.{config}.{n}"
    command = [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "harness.instructions",
        "--child",
        config,
        str(n),
    ]
    errors = scratch / f"callgrind.{config}.{n}.err"
    with errors.open("w") as err:
        child = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=_env(src, scratch, cookie),
            cwd=BENCH_DIR,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            _expect(child.stdout, "ready")
            _toggle(child.pid, "on")
            child.stdin.write("go\n")
            child.stdin.flush()
            _expect(child.stdout, "done")
            _toggle(child.pid, "off")
            child.stdin.write("exit\n")
            child.stdin.close()
            child.wait(timeout=600)
        except (RuntimeError, subprocess.SubprocessError) as exc:
            child.kill()
            child.wait()
            raise RuntimeError(f"{config}: {exc}; {errors.read_text()[-2000:]}") from exc
    stderr = errors.read_text()
    match = _COLLECTED.search(stderr)
    if child.returncode != 0 or match is None:
        raise RuntimeError(f"{config} n={n} failed ({child.returncode}):\n{stderr[-3000:]}")
    threads = _thread_totals(out)
    if 1 not in threads or sum(threads.values()) != int(match.group(1)):
        raise RuntimeError(f"{config}: callgrind's thread files {threads} do not add up to {match.group(1)}")
    if annotate is not None:
        _annotate(out, annotate, config)
    for path in out.parent.glob(f"{out.name}*"):
        if path != errors:
            path.unlink()
    return threads[1], sum(threads.values()) - threads[1]


def _thread_files(out: Path) -> dict[int, Path]:
    """``{thread number: file}`` of ``--separate-threads`` output (``out-01``, ``out-02``, ...)."""
    found = {}
    for path in out.parent.glob(f"{out.name}-*"):
        number = path.name.rsplit("-", 1)[1]
        if number.isdigit():
            found[int(number)] = path
    return dict(sorted(found.items()))


def _thread_totals(out: Path) -> dict[int, int]:
    """``{thread number: instructions}`` (a file without its totals line is left out)."""
    totals = {}
    for number, path in _thread_files(out).items():
        if match := _TOTALS.search(path.read_text(errors="replace")):
            totals[number] = int(match.group(1))
    return totals


def _annotate(out: Path, directory: Path, config: str) -> None:
    """Keep each thread's file of ``out`` in ``directory`` with its by-function listings, inclusive
    and exclusive: ``<config>.inclusive.txt`` for the requests' thread, ``<config>.thread-NN.*`` for others."""
    directory.mkdir(parents=True, exist_ok=True)
    for number, path in _thread_files(out).items():
        name = config if number == 1 else f"{config}.thread-{number:02d}"
        kept = directory / f"callgrind.{name}.out"
        shutil.copyfile(path, kept)
        for kind, inclusive in (("inclusive", "yes"), ("exclusive", "no")):
            listing = subprocess.run(
                ["callgrind_annotate", f"--inclusive={inclusive}", "--threshold=99.5", str(kept)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            (directory / f"{name}.{kind}.txt").write_text(listing.stdout or listing.stderr)


def measure(
    configs: list[str],
    requests: dict[str, int] | None = None,
    src: Path | None = None,
    jobs: int = 2,
    annotate: Path | None = None,
) -> dict[str, Any]:
    """``{"configs": {config: {"per_request", "overhead", "baseline"}}, "failed": {config: why}, ...}``."""
    requests = {**DEFAULT_REQUESTS, **(requests or {})}
    wanted = list(dict.fromkeys([*{baseline(c) for c in configs if baseline(c) != c}, *configs]))
    totals: dict[str, int] = {}
    others: dict[str, int] = {}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lantern-callgrind-") as tmp:
        scratch = Path(tmp)
        cookie = prepare_page(src, scratch) if any(page_kind(c) == "page" for c in wanted) else None

        def one(config: str) -> None:
            try:
                totals[config], others[config] = count(
                    config, requests[page_kind(config)], src, scratch, cookie, annotate
                )
            except (RuntimeError, subprocess.SubprocessError) as exc:
                failed[config] = str(exc).strip().splitlines()[-1][:300]

        # Counts do not depend on what runs beside them: run a few at once for the wall time.
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(one, wanted))
    per_request = {config: total / requests[page_kind(config)] for config, total in totals.items()}
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
            # Clock-driven work in the process's other threads during the whole window (not per request).
            "other_threads": others[config],
        }
    return {
        "requests": requests,
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
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS["tiny"], help="requests of the small view")
    parser.add_argument("--page-requests", type=int, default=DEFAULT_REQUESTS["page"], help="requests of the task list")
    parser.add_argument("--src", type=Path, default=None, help="count this checkout's src instead")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind processes at once (counts are unaffected)")
    parser.add_argument("--out", type=Path, default=RESULTS / "instructions.json", help="'-' to write no file")
    parser.add_argument("--annotate", type=Path, default=None, help="keep callgrind's files and listings here")
    args = parser.parse_args()
    requests = {"tiny": args.requests, "page": args.page_requests}
    src = args.src.resolve() if args.src else None
    configs = [c for c in args.configs.split(",") if c]
    annotate = args.annotate.resolve() if args.annotate else None
    results = measure(configs, requests, src, args.jobs, annotate)
    results["machine"] = machine.describe()
    if src is not None:
        results["machine"]["src_commit"] = machine.git_commit(src)
    if "lantern" in args.configs.split(","):
        # Issue 22: what a scope's cost adds to each query (``harness/query_cost.py``).
        from harness import query_cost

        results["per_query"] = query_cost.accounting(src)
    if str(args.out) != "-":
        args.out.parent.mkdir(exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    print("\n".join(instructions_section(results)))
    if "per_query" in results:
        from harness import query_cost

        print("\n".join(query_cost.accounting_rows(results["per_query"])))


if __name__ == "__main__":
    main()
