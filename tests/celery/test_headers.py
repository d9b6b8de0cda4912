"""Every value read from a task message, validated in one place (``django_lantern.celery._headers``)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from django_lantern.celery import _headers

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    _headers._warned.clear()


def _read(**values: Any) -> _headers.Incoming:
    return _headers.incoming(_headers.from_mapping(values), NOW)


@pytest.mark.parametrize(
    "value",
    [
        -1e308,
        1e308,
        float("nan"),
        float("inf"),
        float("-inf"),
        "1800000000",
        [1] * 10_000,
        {"a": 1},
        True,
        0,
        NOW + _headers.MAX_CLOCK_SKEW + 1,
        NOW - _headers.MAX_AGE - 1,
    ],
)
def test_a_hostile_publish_time_is_ignored_and_warned_about_once(
    value: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a finite number within [now - MAX_AGE, now + MAX_CLOCK_SKEW]: no queue wait, one warning, no echo."""
    assert _read(lantern_published_at=value).queue_wait(NOW) is None
    assert _read(lantern_published_at=value).published_at is None
    warnings = [r for r in caplog.records if "lantern_published_at" in r.getMessage()]
    assert len(warnings) == 1
    assert "1e+308" not in caplog.text and "1800000000" not in warnings[0].getMessage()


def test_a_sane_publish_time_gives_a_finite_non_negative_wait() -> None:
    assert _read(lantern_published_at=NOW - 2.5).queue_wait(NOW) == pytest.approx(2.5)
    assert _read(lantern_published_at=NOW + 10).queue_wait(NOW) == 0.0  # a clock ahead, within the allowance
    eta = datetime.fromtimestamp(NOW - 1, tz=UTC)
    assert _read(lantern_published_at=NOW - 5, eta=eta.isoformat()).queue_wait(NOW) == pytest.approx(1.0)
    assert _read(lantern_published_at=NOW - 5, eta=eta).queue_wait(NOW) == pytest.approx(1.0)  # Celery's datetime
    assert math.isfinite(_read(lantern_published_at=NOW - _headers.MAX_AGE).queue_wait(NOW) or 0.0)


@pytest.mark.parametrize("eta", ["x" * 65, "not a date", 12, ["2026-01-01"]])
def test_a_bad_eta_is_ignored(eta: object) -> None:
    assert _read(lantern_published_at=NOW - 3, eta=eta).queue_wait(NOW) == pytest.approx(3.0)


def test_ids_are_bounded_strings() -> None:
    read = _read(id="t" * 256, task=["x"], parent_id=None, root_id="root-1")
    assert (read.task_id, read.task_name, read.parent_task_id, read.root_task_id) == ("-", "-", "-", "root-1")


def test_trace_headers_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    read = _read(traceparent="0" * 5000, tracestate=["a"])
    assert read.traceparent is None and read.tracestate is None
    assert "0" * 100 not in caplog.text


def test_a_message_without_an_id_gets_one_derived_from_its_task_id(caplog: pytest.LogCaptureFixture) -> None:
    """Both worker processes read the same message: both must arrive at the same id."""
    task_id = str(uuid.uuid4())
    assert _read(id=task_id).run_request_id == uuid.UUID(task_id).hex
    assert _read(id=task_id, lantern_request_id=["a"] * 100).run_request_id == uuid.UUID(task_id).hex
    assert "from a task message" in caplog.text
    assert len(_read(id="custom-id").run_request_id) == 32  # not a UUID: a fresh random id


def test_the_second_reader_does_not_repeat_the_id_warning(caplog: pytest.LogCaptureFixture) -> None:
    values = {"lantern_request_id": "a b"}
    assert _headers.incoming(_headers.from_mapping(values), NOW, warn=False).request_id is None
    assert caplog.text == ""
