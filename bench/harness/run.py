"""``make bench``: every stage in one run, a table on stdout, ``results/latest.json`` and ``latest.md``.

Stages: ``inproc`` (µs per request, WSGI and ASGI), ``http`` (wrk against
gunicorn), ``page`` (the example project's task list over HTTP, with the
servers' CPU per request), ``inplace`` (µs per lantern component inside those
requests), ``instructions`` (callgrind instructions per request, the small
view and the task list), ``scrape``
(``/metrics`` at 100 and 1,000 series), ``readyz`` (PostgreSQL and Redis),
``memory`` (RSS after many unique requests) and ``profile`` (component
timings, ablations, cProfile, WSGI and ASGI). Targets are reported, never
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import http, inplace, inproc, instructions, machine, page
from harness.report import render

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS = BENCH_DIR / "results"
DOC = BENCH_DIR.parent / "docs" / "performance.md"
STAGES = ("inproc", "http", "page", "inplace", "instructions", "scrape", "readyz", "memory", "profile")
MAIN_CONFIGS = [
    "bare",
    "chapter",
    "lantern",
    "lanternfile",
    "lanternotel",
    "peers",
    # Without sessions or auth; each compared with litebare.
    "litebare",
    "litechapter",
    "litelantern",
    "litefile",
]
ABLATION_CONFIGS = ["bare", "lantern", "lanternnolog", "lanternnometrics", "lanterncore", "lanterntext"]

FULL: dict[str, Any] = {
    "inproc_rounds": 20,
    "inproc_n": {"wsgi": 1000, "asgi": 300},
    "http_workers": [1, 2],
    # Many short alternating slices pair better than a few long ones when the load drifts.
    "http_rounds": 8,
    "http_seconds": 3,
    "http_connections": 8,
    # Issue 21: the median of at least 3 runs of 30 or more one-second rounds. Five: a run's
    # figure moves more between freshly started servers than between rounds of one run.
    "page_workers": [1, 2],
    "page_runs": 5,
    "page_rounds": 30,
    "page_seconds": 1,
    "inplace_seconds": 10,
    "scrapes": 100,
    "readyz_requests": 300,
    "memory_requests": 100_000,
    "ablation_rounds": 10,
    "ablation_n": {"wsgi": 500, "asgi": 150},
    "profile_requests": 5000,
    "profile_requests_asgi": 1000,
}
QUICK: dict[str, Any] = {
    **FULL,
    "inproc_rounds": 5,
    "inproc_n": {"wsgi": 300, "asgi": 100},
    "http_workers": [1],
    "http_rounds": 2,
    "http_seconds": 2,
    "page_workers": [1],
    "page_runs": 1,
    "page_rounds": 3,
    "page_seconds": 1,
    "inplace_seconds": 3,
    "scrapes": 20,
    "readyz_requests": 50,
    "memory_requests": 10_000,
    "ablation_rounds": 3,
    "ablation_n": {"wsgi": 300, "asgi": 100},
    "profile_requests": 2000,
    "profile_requests_asgi": 300,
    # Fewer requests counted and only the rows the targets need; counts stay exact.
    "instructions_configs": ["bare", "chapter", "lantern", "floor", "pagebare", "page", "pagefloor"],
    "instructions_requests": {"tiny": 100, "page": 30},
}


def _subprocess_json(args: list[str], tmp: Path, name: str, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m harness.<module> ...`` and return the JSON line it prints."""
    env = {**os.environ, "BENCH_TMP": str(tmp), "PYTHONPATH": str(BENCH_DIR), **(extra_env or {})}
    if not extra_env or "PROMETHEUS_MULTIPROC_DIR" not in extra_env:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (tmp / f"{name}.err").open("w") as errors:
        completed = subprocess.run(
            [sys.executable, "-m", *args], cwd=BENCH_DIR, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        return {"error": f"exit {completed.returncode}; see {tmp / (name + '.err')}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _wait_for(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(1)
    return False


def stage_scrape(p: dict[str, Any], tmp: Path) -> dict[str, Any]:
    single = _subprocess_json(["harness.scrape", "single", str(p["scrapes"])], tmp, "scrape-single")
    prom_dir = tempfile.mkdtemp(prefix="prom-scrape-", dir=tmp)
    multi = _subprocess_json(
        ["harness.scrape", "multi", str(p["scrapes"])], tmp, "scrape-multi", {"PROMETHEUS_MULTIPROC_DIR": prom_dir}
    )
    shutil.rmtree(prom_dir, ignore_errors=True)
    return {"single": single, "multi": multi}


def stage_readyz(p: dict[str, Any], tmp: Path) -> dict[str, Any]:
    # Other test suites on a shared machine may restart PostgreSQL; wait for it to be healthy.
    if not (_wait_for("127.0.0.1", 5432, 60) and _wait_for("127.0.0.1", 6379, 10)):
        return {"skipped": "PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) not reachable"}
    result = _subprocess_json(["harness.readyz", str(p["readyz_requests"])], tmp, "readyz")
    if "skipped" in result and _wait_for("127.0.0.1", 5432, 60):  # once more, after a restart
        time.sleep(3)
        result = _subprocess_json(["harness.readyz", str(p["readyz_requests"])], tmp, "readyz")
    return result


def _task_list(tmp: Path, name: str) -> dict[str, Any]:
    """wrk present and the task list's database prepared: ``{"cookie": ...}``, or why not."""
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (Debian: apt-get install wrk)"}
    return _subprocess_json(["harness.page"], tmp, name)


def stage_page(p: dict[str, Any], tmp: Path, log: Any) -> dict[str, Any]:
    prepared = _task_list(tmp, "page-setup")
    if "cookie" not in prepared:
        return prepared
    return page.run(
        p["page_workers"],
        p["page_runs"],
        p["page_rounds"],
        p["page_seconds"],
        p["http_connections"],
        tmp,
        log,
        prepared["cookie"],
    )


def stage_inplace(p: dict[str, Any], tmp: Path, log: Any) -> dict[str, Any]:
    prepared = _task_list(tmp, "inplace-setup")
    if "cookie" not in prepared:
        return prepared
    return inplace.run(p["inplace_seconds"], p["http_connections"], tmp, log, prepared["cookie"])


def stage_instructions(p: dict[str, Any]) -> dict[str, Any]:
    configs = instructions.TINY_CONFIGS + instructions.PAGE_CONFIGS
    if p.get("instructions_configs"):
        configs = p["instructions_configs"]
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed (Debian: apt-get install valgrind)"}
    result = instructions.measure(configs, p.get("instructions_requests"))
    result["machine"] = {"git_commit": machine.describe()["git_commit"]}
    if "lantern" in configs:
        # Issue 22's per-query rows (``harness/query_cost.py``): accounting, fingerprinting, SQL comment.
        from harness import query_cost

        result["per_query"] = query_cost.accounting(None)
    return result


def stage_memory(p: dict[str, Any], tmp: Path) -> dict[str, Any]:
    return {
        config: _subprocess_json(["harness.memory", config, str(p["memory_requests"])], tmp, f"memory-{config}")
        for config in ("bare", "lantern")
    }


def stage_profile(p: dict[str, Any], tmp: Path, log: Any) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    profiles: dict[str, Any] = {}
    profiles_asgi: dict[str, Any] = {}
    for mode, configs, n, into in (
        ("wsgi", ("bare", "lantern", "lanternotel"), p["profile_requests"], profiles),
        ("asgi", ("bare", "lantern"), p["profile_requests_asgi"], profiles_asgi),
    ):
        for config in configs:
            name = f"profile-{config}" + ("-asgi" if mode == "asgi" else "")
            into[config] = _subprocess_json(
                ["harness.profile", config, str(n), str(RESULTS / f"{name}.pstats"), mode], tmp, name
            )
    log.write("  ablations (interleaved):\n")
    ablation = inproc.run(ABLATION_CONFIGS, p["ablation_rounds"], p["ablation_n"], tmp, log)
    components = _subprocess_json(["harness.components"], tmp, "components")
    return {"cprofile": profiles, "cprofile_asgi": profiles_asgi, "ablation": ablation, "components": components}


def _update_doc(markdown: str) -> None:
    if not DOC.exists():
        return
    text = DOC.read_text()
    start, end = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
    if start not in text or end not in text:
        return
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    DOC.write_text(pattern.sub(lambda _: f"{start}\n{markdown}\n{end}", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and shorter runs")
    parser.add_argument(
        "--stages",
        default=None,
        help=f"comma-separated subset of {', '.join(STAGES)} (default: all; --quick leaves out instructions)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write no result files")
    args = parser.parse_args()
    params = QUICK if args.quick else FULL
    # The callgrind counts have their own target (`make instructions`); a quick run skips them unless named.
    default = [s for s in STAGES if not (args.quick and s == "instructions")]
    stages = [s for s in args.stages.split(",") if s] if args.stages else default
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    if "page" in stages:
        page.against()  # a BENCH_PAGE_CONFIG that names no configuration stops the run here
    tmp = Path(tempfile.mkdtemp(prefix="lantern-bench-"))
    log = sys.stderr
    results: dict[str, Any] = {"machine": machine.describe(), "params": params, "quick": args.quick}
    started = time.monotonic()
    try:
        for stage in stages:
            log.write(f"== {stage}\n")
            log.flush()
            stage_start = time.monotonic()
            if stage == "inproc":
                results["inproc"] = inproc.run(MAIN_CONFIGS, params["inproc_rounds"], params["inproc_n"], tmp, log)
            elif stage == "http":
                results["http"] = http.run(
                    params["http_workers"],
                    params["http_rounds"],
                    params["http_seconds"],
                    params["http_connections"],
                    tmp,
                    log,
                )
            elif stage == "page":
                results["page"] = stage_page(params, tmp, log)
            elif stage == "inplace":
                results["inplace"] = stage_inplace(params, tmp, log)
            elif stage == "instructions":
                results["instructions"] = stage_instructions(params)
            elif stage == "scrape":
                results["scrape"] = stage_scrape(params, tmp)
            elif stage == "readyz":
                results["readyz"] = stage_readyz(params, tmp)
            elif stage == "memory":
                results["memory"] = stage_memory(params, tmp)
            elif stage == "profile":
                results["profile"] = stage_profile(params, tmp, log)
            log.write(f"   {stage} took {time.monotonic() - stage_start:.0f} s\n")
    finally:
        results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        results["machine"]["duration_s"] = round(time.monotonic() - started, 1)
    markdown = render(results)
    print(markdown)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        # A full run of some stages only (``--stages page``) is kept apart from the full run's file.
        name = "quick" if args.quick else "latest" if set(stages) == set(STAGES) else "-".join(stages)
        served = page.against() if "page" in stages else "page"
        if served != "page":  # the page stage against another configuration
            name += f"-{served}"
        (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
        (RESULTS / f"{name}.md").write_text(markdown + "\n")
        if not args.quick and set(stages) == set(STAGES):
            _update_doc(markdown)
        log.write(f"wrote {RESULTS / (name + '.json')}\n")
    if '"error"' in json.dumps(results):
        log.write(f"a stage reported an error; scratch files kept in {tmp}\n")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
