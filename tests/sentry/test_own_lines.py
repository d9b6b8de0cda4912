"""One event per exception: the access line of a failed stream, never again from the server's wrapper."""

from __future__ import annotations

import contextvars
import sys
from typing import Any

from django_lantern.sentry import make_before_send


def _event(logger: str | None, exc: BaseException) -> tuple[dict[str, Any], dict[str, Any]]:
    event: dict[str, Any] = {"level": "error", "exception": {"values": [{"type": type(exc).__name__}]}}
    if logger is not None:
        event["logger"] = logger
    return event, {"exc_info": (type(exc), exc, exc.__traceback__)}


def _raised(message: str) -> BaseException:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        return sys.exc_info()[1]  # type: ignore[return-value]


def test_the_wrapper_repeat_of_an_access_line_exception_is_dropped_in_any_context() -> None:
    before_send = make_before_send()
    failed = _raised("generator failed mid-stream")
    assert before_send(*_event("access", failed)) is not None
    # sentry-sdk's ASGI middleware reports the same object from another task's context.
    assert contextvars.copy_context().run(before_send, *_event(None, failed)) is None
    assert before_send(*_event(None, _raised("another failure"))) is not None


def test_an_exception_first_reported_elsewhere_is_kept() -> None:
    before_send = make_before_send()
    failed = _raised("a view failed")
    assert before_send(*_event(None, failed)) is not None
    assert before_send(*_event("django.request", failed)) is not None  # sentry-sdk's own dedupe decides these
