"""Stage 2: requests per second and p99 latency over HTTP, wrk against gunicorn on 127.0.0.1.

For each worker count, a bare and a lantern gunicorn run side by side on two
ports; the rounds alternate between them (order shuffled per round), so both
see the same machine conditions. Sync workers, the small JSON view, short
bounded runs. With two workers lantern uses ``PROMETHEUS_MULTIPROC_DIR`` (the
only correct multi-worker setup for Prometheus).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

from harness.stats import median, ratio, spread

BENCH_DIR = Path(__file__).resolve().parent.parent
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_LATENCY = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def parse_wrk(output: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latencies = {f"p{m.group(1)}_ms": float(m.group(2)) * _UNITS[m.group(3)] for m in _LATENCY.finditer(output)}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": int(requests.group(1)) if requests else 0,
        **latencies,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


class Server:
    """A gunicorn master we started, stopped by its own pid.

    ``config`` names the settings module (``benchproj.settings_<config>``);
    ``app`` and ``pythonpath`` let the page stage serve the example project.
    With ``multiproc`` the workers share a ``PROMETHEUS_MULTIPROC_DIR``.
    """

    def __init__(
        self,
        config: str,
        workers: int,
        tmp: Path,
        log: IO[str],
        *,
        multiproc: bool = False,
        app: str = "benchproj.wsgi:application",
        path: str = "/data/",
        pythonpath: tuple[Path, ...] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{path}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"benchproj.settings_{config}",
            "BENCH_TMP": str(tmp),
            "PYTHONPATH": os.pathsep.join(str(p) for p in (BENCH_DIR, *pythonpath)),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(extra_env or {})
        self.multiproc_dir: str | None = None
        if multiproc:
            self.multiproc_dir = tempfile.mkdtemp(prefix=f"prom-{config}-", dir=tmp)
            env["PROMETHEUS_MULTIPROC_DIR"] = self.multiproc_dir
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.errors = (tmp / f"gunicorn-{config}-{workers}.err").open("w")
        self.process = subprocess.Popen(
            [
                gunicorn,
                app,
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--chdir",
                str(BENCH_DIR),
                "--log-level",
                "warning",
                "--backlog",
                "2048",
            ],
            cwd=BENCH_DIR,
            env=env,
            stdout=self.errors,
            stderr=self.errors,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn for {self.config} exited; see {self.errors.name}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn for {self.config} did not answer within {timeout:.0f} s")

    def pids(self) -> list[int]:
        """The master and its workers (the master's children, from /proc)."""
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
            pids += [int(pid) for pid in children]
        except OSError:
            pass
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the master and its live workers (/proc/<pid>/stat)."""
        ticks = 0
        for pid in self.pids():
            try:
                # Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return ticks / _CLOCK_TICKS

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.close()
        if self.multiproc_dir:
            shutil.rmtree(self.multiproc_dir, ignore_errors=True)


def wrk(url: str, seconds: int, connections: int, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    header_args = [arg for header in headers for arg in ("-H", header)]
    completed = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s", *header_args, url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    return parse_wrk(completed.stdout)


def alternate(
    servers: dict[str, Server],
    rounds: int,
    seconds: int,
    connections: int,
    rng: random.Random,
    log: IO[str],
    label: str,
    headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Warm both servers, then ``rounds`` of one wrk run each in a shuffled order; stops them after.

    ``servers`` maps the roles ``bare`` and ``lantern`` to their servers; the
    entry holds each role's spreads and lantern's paired fraction of bare's rps.
    """
    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in servers}
    try:
        for server in servers.values():  # warm every worker up; discarded
            wrk(server.url, 1, connections, headers)
        for round_no in range(1, rounds + 1):
            order = list(servers)
            rng.shuffle(order)
            for role in order:
                cpu_before = servers[role].cpu_seconds()
                sample = wrk(servers[role].url, seconds, connections, headers)
                # The server's own CPU (master and workers) per request served in this round.
                cpu = servers[role].cpu_seconds() - cpu_before
                sample["cpu_s"] = cpu
                sample["cpu_ms_per_request"] = cpu * 1000 / sample["requests"] if sample["requests"] else None
                samples[role].append(sample)
            log.write(
                f"  {label}, round {round_no}/{rounds}: "
                + "  ".join(
                    f"{c} {samples[c][-1]['rps']:.0f} rps p99 {samples[c][-1].get('p99_ms', 0):.2f} ms" for c in servers
                )
                + "\n"
            )
            log.flush()
    finally:
        for server in servers.values():
            server.stop()
    entry: dict[str, Any] = {}
    for role, runs in samples.items():
        entry[role] = {
            "rps": spread([r["rps"] for r in runs]),
            "p50_ms": spread([r.get("p50_ms", 0.0) for r in runs]),
            "p99_ms": spread([r.get("p99_ms", 0.0) for r in runs]),
            "cpu_ms_per_request": spread([r["cpu_ms_per_request"] for r in runs if r.get("cpu_ms_per_request")]),
            # Over all rounds at once: CPU ticks are 10 ms, so the sum is finer than any one round.
            "cpu_ms_per_request_overall": ratio(
                sum(r.get("cpu_s", 0.0) for r in runs) * 1000, sum(r.get("requests", 0) for r in runs)
            ),
            "socket_errors": sum(r["socket_errors"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs),
        }
    paired = [
        lantern["rps"] / bare["rps"]
        for lantern, bare in zip(samples["lantern"], samples["bare"], strict=True)
        if bare["rps"]
    ]
    entry["lantern_rps_fraction"] = round(median(paired), 4) if paired else None
    entry["lantern_rps_fraction_of_medians"] = ratio(entry["lantern"]["rps"]["median"], entry["bare"]["rps"]["median"])
    return entry


def run(
    worker_counts: list[int], rounds: int, seconds: int, connections: int, tmp: Path, log: IO[str]
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (Debian: apt-get install wrk)"}
    rng = random.Random(22)
    result: dict[str, Any] = {"seconds": seconds, "rounds": rounds, "connections": connections, "workers": {}}
    for workers in worker_counts:
        servers = {c: Server(c, workers, tmp, log, multiproc=c != "bare" and workers > 1) for c in ("bare", "lantern")}
        entry = alternate(servers, rounds, seconds, connections, rng, log, f"{workers} worker(s)")
        entry["multiproc"] = workers > 1
        result["workers"][str(workers)] = entry
    return result
