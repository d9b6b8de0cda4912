"""Stage 1: µs per request in-process through the WSGI and ASGI handlers, interleaved rounds.

One warm worker process per configuration (settings are fixed before
``django.setup()``). Each round runs one batch per (mode, configuration) in a
fresh random order; a configuration's overhead in a round is its µs minus
its baseline's µs in the same round (``bare``; ``litebare`` for the ``lite*``
configurations, which have no sessions or auth), and the report gives the
median over rounds.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.stats import median, ratio, spread

BENCH_DIR = Path(__file__).resolve().parent.parent
MODES = ("wsgi", "asgi")
BASELINES = ("bare", "litebare")
# Ratios of median overheads: name -> (numerator, denominator); each pair shares its baseline.
RATIOS = {
    "lantern_over_chapter": ("lantern", "chapter"),
    "lanternfile_over_chapter": ("lanternfile", "chapter"),
    "litelantern_over_litechapter": ("litelantern", "litechapter"),
    "litefile_over_litechapter": ("litefile", "litechapter"),
    "lantern_over_peers": ("lantern", "peers"),
    "lanternotel_over_peers": ("lanternotel", "peers"),
}


def baseline(config: str) -> str:
    """The configuration a configuration's overhead is measured against."""
    return "litebare" if config.startswith("lite") else "bare"


@dataclass
class Worker:
    config: str
    process: subprocess.Popen[str]
    info: dict[str, Any] = field(default_factory=dict)

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.config} died; see {self.config}.err in the scratch directory")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask_quit()
            finally:
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()

    def ask_quit(self) -> None:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        try:
            stdin.write(json.dumps({"op": "quit"}) + "\n")
            stdin.flush()
        except BrokenPipeError:
            pass


def start_worker(config: str, tmp: Path) -> Worker:
    env = {**os.environ, "BENCH_TMP": str(tmp), "PYTHONPATH": str(BENCH_DIR)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    errors = (tmp / f"{config}.err").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.worker", config],
        cwd=BENCH_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    return Worker(config, process)


def run(configs: list[str], rounds: int, n: dict[str, int], tmp: Path, log: IO[str]) -> dict[str, Any]:
    workers = [start_worker(c, tmp) for c in configs]
    live: list[Worker] = []
    unavailable: dict[str, str] = {}
    try:
        for worker in workers:
            line = worker.process.stdout.readline() if worker.process.stdout else ""
            if not line:
                raise RuntimeError(f"worker {worker.config} failed to start; see {tmp / (worker.config + '.err')}")
            worker.info = json.loads(line)
            if "unavailable" in worker.info:
                unavailable[worker.config] = worker.info["unavailable"]
                worker.process.wait(timeout=10)
            else:
                live.append(worker)
        samples: dict[str, dict[str, list[float]]] = {w.config: {m: [] for m in MODES} for w in live}
        order_rng = random.Random(21)
        for round_no in range(rounds + 1):  # round 0 warms every path up and is discarded
            for mode in MODES:
                order = list(live)
                order_rng.shuffle(order)
                for worker in order:
                    answer = worker.ask({"op": mode, "n": n[mode]})
                    if round_no:
                        samples[worker.config][mode].append(answer["us_per_request"])
            if round_no:
                log.write(
                    f"  round {round_no}/{rounds}: "
                    + "  ".join(
                        f"{w.config} {samples[w.config]['wsgi'][-1]:.0f}/{samples[w.config]['asgi'][-1]:.0f}"
                        for w in live
                    )
                    + " µs (wsgi/asgi)\n"
                )
                log.flush()
    finally:
        for worker in workers:
            worker.close()
    return summarise(samples, {w.config: w.info for w in live}, unavailable, rounds, n)


def summarise(
    samples: dict[str, dict[str, list[float]]],
    info: dict[str, dict[str, Any]],
    unavailable: dict[str, str],
    rounds: int,
    n: dict[str, int],
) -> dict[str, Any]:
    result: dict[str, Any] = {"rounds": rounds, "requests_per_batch": n, "configs": {}, "unavailable": unavailable}
    overheads: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
    for config, by_mode in samples.items():
        entry: dict[str, Any] = {"check": info.get(config, {})}
        base = samples.get(baseline(config))
        for mode, values in by_mode.items():
            mode_entry: dict[str, Any] = {"us": spread(values), "samples": [round(v, 2) for v in values]}
            if base is not None and config not in BASELINES:
                diffs = [v - b for v, b in zip(values, base[mode], strict=True)]
                mode_entry["overhead_us"] = spread(diffs)
                overheads[mode][config] = median(diffs)
            entry[mode] = mode_entry
        if config not in BASELINES:
            entry["baseline"] = baseline(config)
        result["configs"][config] = entry
    result["ratios"] = {
        mode: {name: ratio(overheads[mode].get(a), overheads[mode].get(b)) for name, (a, b) in RATIOS.items()}
        for mode in MODES
    }
    return result
