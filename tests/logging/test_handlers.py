"""The counting and non-blocking log handlers (django_lantern.logging.handlers)."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time

import pytest

from django_lantern.logging import handlers


def _record(msg: str = "hello") -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, None, None)


class _Broken(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class _Blocking(io.StringIO):
    """A stream whose write waits until released: a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, s: str) -> int:
        self.release.wait(timeout=10)
        return super().write(s)


def test_safe_stream_handler_counts_instead_of_printing(capsys: pytest.CaptureFixture[str]) -> None:
    """A failed write is counted, and nothing is printed to stderr."""
    before = handlers.stats()[handlers.ERRORS]
    handler = handlers.SafeStreamHandler(_Broken())
    handler.handle(_record())
    assert handlers.stats()[handlers.ERRORS] == before + 1
    assert "Logging error" not in capsys.readouterr().err


def test_safe_file_handler_counts_an_unopenable_path(tmp_path: object) -> None:
    """An unwritable path fails at the first record (counted), not at construction."""
    before = handlers.stats()[handlers.ERRORS]
    handler = handlers.SafeFileHandler("/nonexistent-dir/for/sure/app.log")
    handler.handle(_record())
    handler.close()
    assert handlers.stats()[handlers.ERRORS] == before + 1


def test_non_blocking_handler_writes_in_order() -> None:
    """Lines reach the stream in the order they were logged."""
    stream = io.StringIO()
    handler = handlers.NonBlockingStreamHandler(stream)
    for i in range(20):
        handler.handle(_record(f"line {i}"))
    handler.flush()
    assert stream.getvalue().splitlines() == [f"line {i}" for i in range(20)]
    handler.close()


def test_non_blocking_handler_drops_and_counts_when_full() -> None:
    """A blocked sink: emit never waits; past the queue bound records are dropped and counted."""
    stream = _Blocking()
    handler = handlers.NonBlockingStreamHandler(stream, max_queue=5, flush_timeout=0.1)
    before = handlers.stats()[handlers.DROPPED]
    started = time.monotonic()
    for i in range(50):
        handler.handle(_record(f"line {i}"))
    assert time.monotonic() - started < 5  # an upper bound: the caller never waited on the sink
    dropped = handlers.stats()[handlers.DROPPED] - before
    assert 50 - 5 - 1 <= dropped <= 50 - 5  # one may be in the writer's hands
    stream.release.set()
    handler.flush()
    handler.close()


def test_non_blocking_handler_reports_each_gap_where_it_was() -> None:
    """After a run of drops, the next line accepted is preceded by one WARNING line with the count,
    formatted like the others and without the current request's context."""
    from django_lantern.logging import JsonFormatter

    stream = _Blocking()
    handler = handlers.NonBlockingStreamHandler(stream, max_queue=3, flush_timeout=2)
    handler.setFormatter(JsonFormatter())
    before = handlers.stats()[handlers.DROPPED]
    for i in range(20):
        handler.handle(_record(f"stalled {i}"))
    dropped = handlers.stats()[handlers.DROPPED] - before
    assert dropped >= 16
    stream.release.set()
    handler.flush()
    handler.handle(_record("after"))
    handler.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    gap, last = lines[-2:]
    assert last["message"] == "after"
    assert gap["level"] == "warning" and gap["logger"] == handlers.GAP_LOGGER and gap["request_id"] == "-"
    assert gap["dropped"] == dropped and gap["message"].startswith(f"{dropped} log records were dropped")
    assert [line["message"] for line in lines[:-2]] == [f"stalled {i}" for i in range(len(lines) - 2)]
    handler.handle(_record("no gap"))
    handler.flush()
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "no gap"  # reported once
    handler.close()


def test_non_blocking_handler_bounds_bytes() -> None:
    """``max_bytes`` bounds memory whatever the line count."""
    stream = _Blocking()
    handler = handlers.NonBlockingStreamHandler(stream, max_queue=1000, max_bytes=100, flush_timeout=0.1)
    before = handlers.stats()[handlers.DROPPED]
    for _ in range(10):
        handler.handle(_record("x" * 60))
    assert handlers.stats()[handlers.DROPPED] - before >= 8
    stream.release.set()
    handler.close()


def test_non_blocking_handler_counts_write_errors() -> None:
    """A sink that raises: the writer thread counts each failure and keeps going."""
    handler = handlers.NonBlockingStreamHandler(_Broken())
    before = handlers.stats()[handlers.ERRORS]
    for _ in range(3):
        handler.handle(_record())
    handler.flush()
    assert handlers.stats()[handlers.ERRORS] == before + 3
    handler.close()


def test_non_blocking_handler_to_a_file(tmp_path: os.PathLike[str]) -> None:
    """``filename=`` opens the file lazily, in append mode."""
    path = os.path.join(tmp_path, "app.log")
    handler = handlers.NonBlockingStreamHandler(filename=path)
    handler.handle(_record("to file"))
    handler.flush()
    handler.close()
    with open(path) as fh:
        assert fh.read() == "to file\n"


@pytest.mark.django_db(databases=[])
def test_counters_are_mirrored_into_prometheus() -> None:
    """Once settings are loaded the counts appear as lantern_log_* counters."""
    from prometheus_client import REGISTRY

    handlers.ensure_metrics()
    handlers.SafeStreamHandler(_Broken()).handle(_record())
    value = REGISTRY.get_sample_value("lantern_log_errors_total")
    assert value is not None and value >= 1
