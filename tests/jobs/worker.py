"""Start and stop a real Celery worker (``tests.jobs.celery_app``) for a test.

The worker runs in its own session with its output in a file; it is stopped
with SIGTERM (a warm shutdown) and, if it is still there after a bounded wait,
its process group (the worker and its pool children) gets SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.helpers.servers import whole_lines

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
# kombu's Redis transport: one set of bindings per exchange, and one sorted set of
# binding deadlines for the whole database; none of them has an expiry.
BINDING_KEYS = "_kombu.binding*.{exchange}"
BINDING_DEADLINES = "_kombu.binding_deadlines"


def broker_url(redis_url: str) -> str:
    """The broker for the Celery tests: ``REDIS_URL`` itself, its database included.

    The tests share that database with whatever else ``REDIS_URL`` serves, so each
    worker has a queue of its own and ``forget_queues`` removes what kombu left.
    """
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must be a redis:// URL, not {parts.scheme}://")
    return redis_url


def forget_queues(broker: str, *queues: str) -> None:
    """Delete what kombu wrote for these queues, which it never expires.

    A queue's list and its bindings (the default exchange of a Celery queue has
    the queue's name), then the deadline entries whose bindings no longer exist
    (a worker's remote-control exchange, ``celery.pidbox``, leaves those).
    """
    import redis

    client = redis.Redis.from_url(broker)
    try:
        for queue in queues:
            client.delete(queue, *client.scan_iter(match=BINDING_KEYS.format(exchange=queue)))
        for exchange in client.zrange(BINDING_DEADLINES, 0, -1):
            if not client.exists(f"_kombu.binding.{exchange.decode()}"):
                client.zrem(BINDING_DEADLINES, exchange)
    finally:
        client.close()


def job_env(broker: str, queue: str, lantern: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.settings",
        "PYTHONPATH": str(ROOT),
        "JOBS_BROKER_URL": broker,
        "JOBS_QUEUE": queue,
        "JOBS_LANTERN": json.dumps(lantern or {}),
        **extra,
    }


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path
    queue: str

    def output(self) -> str:
        """What the worker has written: its whole lines while it runs (a line still being written
        waits for the next read), all of it once it stopped (as ``Server.output``)."""
        text = self.log_path.read_text(errors="replace")
        return whole_lines(text) if self.process.poll() is None else text

    def lines(self) -> list[dict[str, Any]]:
        """The worker's JSON log records so far (``output``); a line that does not parse fails."""
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def task_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "lantern.task"]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float, what: str, interval: float = 0.1
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.lines()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(interval)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise AssertionError(f"worker: {what} not seen within {timeout}s; output tail:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    # The pool children too, if any outlived the main process.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def run_worker(
    broker: str,
    *,
    pool: str,
    concurrency: int = 1,
    lantern: dict[str, Any] | None = None,
    app: str = "tests.jobs.celery_app",
    args: tuple[str, ...] = (),
    **env: str,
) -> Iterator[Worker]:
    """A worker of ``app`` on a fresh queue of its own, ready to consume when this yields;
    ``args`` are more ``celery worker`` options."""
    queue = f"lantern-test-{uuid.uuid4().hex[:12]}"
    log = tempfile.NamedTemporaryFile(prefix="lantern-celery-", suffix=".log", delete=False)  # noqa: SIM115
    log_path = Path(log.name)
    process = subprocess.Popen(
        [
            str(CELERY),
            "-A",
            app,
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={queue}@127.0.0.1",
            *args,
        ],
        cwd=ROOT,
        env=job_env(broker, queue, lantern, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    worker = Worker(process, log_path, queue)
    try:
        worker.wait_for(lambda lines: any(line["message"].endswith(" ready.") for line in lines), 45, "ready")
        yield worker
    finally:
        _stop(process)
        log_path.unlink(missing_ok=True)
        forget_queues(broker, queue)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """A worker's ``/metrics`` on ``port`` as ``{(name, sorted labels): value}``."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
