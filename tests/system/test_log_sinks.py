"""Log sinks failing under a real server: requests still succeed, failures are counted, not raised."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.system import support

REQUESTS = support.scaled(400, minimum=200)
# Fixed, not scaled: 3 lines each must overflow the 64 KiB pipe and the 1,000-line queue.
BLOCKED_REQUESTS = 1000
REQUEST_BUDGET = 2.0  # seconds; a request that waits on a blocked sink would take forever
EXIT_BUDGET = 15.0  # SIGTERM to exit with a blocked stdout: the handler's flush is bounded


def _traffic(server: support.Server, count: int = REQUESTS) -> list[float]:
    """``count`` logging requests on 8 threads; every one must be 200. Their durations."""
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def one(i: int) -> float:
            started = time.monotonic()
            response = client.get(f"/_system/log/{i}/")
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
