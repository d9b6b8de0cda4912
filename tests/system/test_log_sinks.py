"""Log sinks failing under a real server: requests still succeed, failures are counted, not raised."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from django_lantern.logging.handlers import GAP_LOGGER
from tests.helpers.servers import whole_lines
from tests.system import support

REQUESTS = support.scaled(400, minimum=200)
# Fixed, not scaled: 3 lines each must overflow the 64 KiB pipe and the 1,000-line queue.
BLOCKED_REQUESTS = 1000
REQUEST_BUDGET = 2.0  # seconds; a request that waits on a blocked sink would take forever
HEALTHZ_BUDGET = 1.0  # Kubernetes' default probe timeout
# The example's own handler (build_logging_config()'s default: 10,000 queued lines): 400 pages of 53
# lines each overflow it and the 64 KiB pipe; 200 pages of 13 lines overflow the pipe only.
STALL_REQUESTS, STALL_LINES = 400, 50
EXIT_REQUESTS, EXIT_LINES = 200, 10
EXIT_BUDGET = 15.0  # SIGTERM to exit with a blocked stdout: the handler's flush is bounded


def _traffic(server: support.Server, count: int = REQUESTS, lines: int = 0) -> list[float]:
    """``count`` logging requests (each ``lines`` more lines) on 8 threads; every one must be 200. Their durations."""
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def one(i: int) -> float:
            started = time.monotonic()
            response = client.get(f"/_system/log/{i}/", params={"lines": lines} if lines else None)
            assert response.status_code == 200, response.status_code
            return time.monotonic() - started

        return support.run_concurrently([lambda i=i: one(i) for i in range(count)], 8, timeout=120)


def _counters(server: support.Server) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return {
        "errors": support.metric_value(text, "lantern_log_errors_total"),
        "dropped": support.metric_value(text, "lantern_log_records_dropped_total"),
    }


def _no_logging_tracebacks(server: support.Server) -> None:
    # The standard handler prints this block to stderr for every failed record.
    assert "--- Logging error ---" not in server.output()


@pytest.mark.system
@pytest.mark.parametrize("handler", ["safe", "nonblocking"])
def test_stdout_closed(handler: str, env: dict[str, str]) -> None:
    """The reader of stdout goes away (EPIPE): requests succeed, every failed write is counted."""
    env = {**env, "LANTERN_SYSTEM_LOG_HANDLER": handler}
    args = support.gunicorn_args(workers=1, threads=4)
    with support.serve("gunicorn", env, args=args, stdout=subprocess.PIPE) as server:
        assert server.process.stdout is not None
        server.process.stdout.close()  # the log collector died
        durations = _traffic(server)
        time.sleep(0.5)  # the non-blocking writer counts asynchronously
        counts = _counters(server)
        assert server.process.poll() is None
        _no_logging_tracebacks(server)
    assert max(durations) <= REQUEST_BUDGET
    assert counts["errors"] >= REQUESTS, counts
    print(
        f"\n[system] stdout closed ({handler}): {REQUESTS} requests all 200, slowest {max(durations) * 1000:.0f} ms, "
        f"counted {counts}"
    )


@pytest.mark.system
def test_stdout_blocked_with_the_queue_handler(env: dict[str, str]) -> None:
    """Nobody reads stdout (a full pipe): with the queue handler requests never wait; records past the bound
    are dropped and counted, and SIGTERM still stops the server promptly."""
    env = {**env, "LANTERN_SYSTEM_LOG_HANDLER": "nonblocking"}
    args = support.gunicorn_args(workers=1, threads=4)
    with support.serve("gunicorn", env, args=args, stdout=subprocess.PIPE) as server:
        durations = _traffic(server, BLOCKED_REQUESTS)
        counts = _counters(server)
        pid = server.worker_pids()[0]
        rss_kb = int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=EXIT_BUDGET + 10)
        exit_seconds = time.monotonic() - started
        _no_logging_tracebacks(server)
    assert max(durations) <= REQUEST_BUDGET
    assert counts["dropped"] > 0, counts
    assert exit_seconds <= EXIT_BUDGET
    print(
        f"\n[system] stdout blocked (queue, max 1000 lines): {BLOCKED_REQUESTS} requests all 200, slowest "
        f"{max(durations) * 1000:.0f} ms, counted {counts}, worker RSS {rss_kb} kB, exit after SIGTERM "
        f"{exit_seconds:.1f}s"
    )


class _PipeReader:
    """A server's stdout pipe, read by a thread only once ``start`` is called: until then
    nobody reads it, as when a log collector stalls."""

    def __init__(self, pipe: IO[bytes] | None) -> None:
        assert pipe is not None
        self._fd = pipe.fileno()
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        while chunk := os.read(self._fd, 65536):  # until the server's end closes the pipe
            self._chunks.append(chunk)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def json_lines(self) -> list[dict[str, Any]]:
        text = b"".join(list(self._chunks)).decode(errors="replace")
        if self._thread.is_alive():  # the pipe is still being read: a half-written last line is left out
            text = whole_lines(text)
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _server_args(kind: str) -> list[str]:
    return support.gunicorn_args(workers=1, threads=4) if kind == "gunicorn" else []


def _reported_gaps(reader: _PipeReader) -> int:
    return sum(int(line["dropped"]) for line in reader.json_lines() if line.get("logger") == GAP_LOGGER)


@pytest.mark.system
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_stdout_stalled_with_the_default_handler(kind: str, env: dict[str, str]) -> None:
    """The log collector stops reading (a full pipe) under the example's own logging
    (build_logging_config()'s default handler): pages and /healthz keep answering, every lost
    line is counted on /metrics, and once the pipe is read again the WARNING lines that mark
    the gaps add up to that counter."""
    with support.serve(kind, env, args=_server_args(kind), stdout=subprocess.PIPE) as server:
        reader = _PipeReader(server.process.stdout)
        pages: list[float] = []
        finished = threading.Event()

        def traffic() -> None:
            try:
                pages.extend(_traffic(server, STALL_REQUESTS, STALL_LINES))
            finally:
                finished.set()

        threading.Thread(target=traffic, daemon=True).start()
        probes: list[tuple[int, float]] = []
        with httpx.Client(base_url=server.url, timeout=10) as client:
            deadline = time.monotonic() + 180
            while not finished.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                status = client.get("/healthz").status_code
                probes.append((status, time.monotonic() - started))
                time.sleep(0.05)
        dropped = _counters(server)["dropped"]
        reader.start()  # the collector is back
        reported = 0
        for _ in range(50):  # each /metrics answer is a line accepted after any gap: it carries the report
            total = _counters(server)["dropped"]
            reported = _reported_gaps(reader)
            if reported == total:
                break
            time.sleep(0.2)
    reader.join(timeout=10)
    assert len(pages) == STALL_REQUESTS, f"{len(pages)} of {STALL_REQUESTS} pages answered"
    assert max(pages) <= REQUEST_BUDGET
    assert probes and {status for status, _ in probes} == {200}
    slowest_probe = max(seconds for _, seconds in probes)
    assert slowest_probe <= HEALTHZ_BUDGET
    assert dropped > 0
    assert reported == total, (reported, total)
    print(
        f"\n[system] stdout stalled, default handler, {kind}: {STALL_REQUESTS} pages of {STALL_LINES + 3} lines "
        f"all 200, slowest {max(pages) * 1000:.0f} ms; {len(probes)} /healthz all 200, slowest "
        f"{slowest_probe * 1000:.0f} ms; {dropped:.0f} lines dropped and counted while stalled, {total:.0f} in all "
        f"(the first /metrics answer's own line too), {reported} reported by gap lines once the pipe was read again"
    )


@pytest.mark.system
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_default_handler_writes_every_queued_line_at_exit(kind: str, env: dict[str, str]) -> None:
    """Lines queued behind a reader that paused are all written at a normal exit (SIGTERM):
    every page's access line and its own last line are there, and no gap is reported."""
    with support.serve(kind, env, args=_server_args(kind), stdout=subprocess.PIPE) as server:
        reader = _PipeReader(server.process.stdout)
        _traffic(server, EXIT_REQUESTS, EXIT_LINES)  # about 1 MB of lines: most wait in the queue
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        reader.start()
        server.process.wait(timeout=EXIT_BUDGET + 10)
        exit_seconds = time.monotonic() - started
    reader.join(timeout=10)
    lines = reader.json_lines()
    expected = set(range(EXIT_REQUESTS))
    access = {line["path"] for line in lines if line.get("logger") == "access"}
    assert {f"/_system/log/{i}/" for i in expected} <= access
    assert {line["seq"] for line in lines if line.get("message") == "system view end"} == expected
    assert not [line for line in lines if line.get("logger") == GAP_LOGGER]
    print(
        f"\n[system] exit with queued lines, {kind}: {EXIT_REQUESTS} pages of {EXIT_LINES + 3} lines, "
        f"{len(lines)} lines written, none lost; exit {exit_seconds:.1f}s after SIGTERM"
    )


@contextlib.contextmanager
def _tiny_disk(read_only: bool) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled up or remounted read-only; unmounted afterwards."""
    mount = Path(tempfile.mkdtemp(prefix="lantern-disk-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
        else:
            with open(mount / "filler", "wb") as fh, contextlib.suppress(OSError):
                fh.write(b"\0" * 128 * 1024)  # more than fits: the disk is full
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
        with contextlib.suppress(OSError):
            mount.rmdir()


@pytest.mark.system
@pytest.mark.parametrize("disk", ["full", "read-only", "dev-full"])
def test_log_file_on_a_failing_disk(disk: str, env: dict[str, str]) -> None:
    """A log file on a full (ENOSPC) or read-only (EROFS) disk: requests succeed, failures are counted."""
    with contextlib.ExitStack() as stack:
        if disk == "dev-full":
            path = "/dev/full"  # every write fails with ENOSPC, without mounting anything
        else:
            path = str(stack.enter_context(_tiny_disk(read_only=disk == "read-only")) / "app.log")
        env = {**env, "LANTERN_SYSTEM_LOG_HANDLER": f"file:{path}"}
        with support.serve("gunicorn", env, args=support.gunicorn_args(workers=1, threads=4)) as server:
            durations = _traffic(server)
            counts = _counters(server)
            assert server.process.poll() is None
            _no_logging_tracebacks(server)
    assert max(durations) <= REQUEST_BUDGET
    assert counts["errors"] >= REQUESTS, counts
    print(
        f"\n[system] log file on {disk} disk: {REQUESTS} requests all 200, slowest {max(durations) * 1000:.0f} ms, "
        f"counted {counts}"
    )
