"""Where lantern's instructions go, by Python function: an opcode-counting profile of warm requests.

``python -m harness.opcodes [--config lantern] [--page] [--requests 20] [--top 60]``

callgrind (``harness.instructions --annotate``) names the interpreter's C
functions, and most of what lantern adds is ``_PyEval_EvalFrameDefault``,
the bytecode itself. This profile names the Python functions: cProfile with
a timer that counts the bytecodes executed (``sys.settrace`` with opcode
events), so "time" is opcodes, inclusive and own, per request. It is
deterministic like callgrind, and roughly proportional to its count for
Python code; C work (``orjson``, a write, a lock) counts as one call.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any


def _environ(page: bool) -> dict[str, Any]:
    from harness import drive

    if not page:
        return drive.environ("/data/")
    from harness.page import PATH

    env = drive.environ(PATH, headers={"Cookie": os.environ["BENCH_COOKIE"]})
    env["HTTP_ACCEPT"] = "text/html"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--config", default="lantern", help="a benchproj settings name (page* with --page)")
    parser.add_argument("--page", action="store_true", help="the example's task list instead of the small view")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--match", default="django_lantern", help="list only functions whose file contains this")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_TMP", tempfile.mkdtemp(prefix="lantern-opcodes-"))
    if args.page and "BENCH_COOKIE" not in os.environ:
        from harness.instructions import prepare_page

        os.environ["BENCH_COOKIE"] = prepare_page(None, Path(os.environ["BENCH_TMP"]))
    from harness import drive
    from harness.djsetup import setup
    from harness.instructions import VALGRIND_PACE

    setup(args.config, pace=VALGRIND_PACE)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    env = _environ(args.page)
    drive.wsgi_batch(app, itertools.repeat(env), 50)  # type: ignore[arg-type]
    executed = [0]

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            executed[0] += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return local

    profile = cProfile.Profile(timer=lambda: executed[0], timeunit=1.0)
    sys.settrace(tracer)
    profile.enable()
    drive.wsgi_batch(app, itertools.repeat(env), args.requests)  # type: ignore[arg-type]
    profile.disable()
    sys.settrace(None)
    n = args.requests
    print(f"{args.config}: {executed[0] / n:,.0f} opcodes per request")
    print(f"{'own':>8} {'incl.':>8} {'calls':>6}  function (per request)")
    stats = pstats.Stats(profile, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda item: -item[1][3])
    shown = 0
    for (path, line, name), (_, calls, own, inclusive, _) in rows:
        if args.match not in path:
            continue
        where = path.split(args.match)[-1] if args.match else path
        print(f"{own / n:8,.0f} {inclusive / n:8,.0f} {calls / n:6.1f}  {where}:{line}({name})")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
