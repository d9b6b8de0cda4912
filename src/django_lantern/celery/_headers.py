"""Every value lantern reads from a Celery task message, validated in one place.

A message is as hostile as an HTTP request: anyone who can write to the
broker can put anything in its headers. Both sides of the worker read them
through :func:`incoming`: the child that runs the task (from the task's
request) and the main process (from the message, for Celery's own
``received`` line and for a run whose child was killed). Nothing else in
``django_lantern.celery`` looks at a header.

The rules:

- ``lantern_request_id``: through :func:`django_lantern.request_id.accept`,
  the rule for every incoming id. A message without a usable one gets an id
  derived from its task id (a UUID's 32 hex digits), so that the main process
  and the child, which both need one, agree on it without talking.
- ``lantern_published_at``: a finite number of Unix seconds no more than
  :data:`MAX_CLOCK_SKEW` ahead of this host's clock and no older than
  :data:`MAX_AGE`. Anything else is ignored (the run's queue wait is then
  unknown), so a value such as ``-1e308`` can never reach a histogram's sum.
- ``eta`` (Celery's own): an ISO 8601 string of at most 64 characters.
- ``traceparent`` / ``tracestate``: strings of bounded length, then the strict
  W3C checks (``django_lantern.http._trace_context``).
- ids Celery puts in the message (``id``, ``task``, ``parent_id``,
  ``root_id``): strings of at most :data:`MAX_FIELD` characters, else ``-``.

A rejected value is never echoed: one warning per header name and process
says what was ignored (an id rejection is logged by ``accept`` itself).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_lantern import request_id as request_ids
from django_lantern.context import UNKNOWN

REQUEST_ID_HEADER = "lantern_request_id"
PUBLISHED_AT_HEADER = "lantern_published_at"

# A publisher's clock may run ahead of the worker's by this much; a later
# publish time is a forgery or a broken clock.
MAX_CLOCK_SKEW = 300.0
# A message older than this (a queue left alone for a month) says nothing
# useful about queueing; its value is dropped rather than observed.
MAX_AGE = 30 * 86400.0
MAX_FIELD = 255
MAX_TRACE_HEADER = 1024
MAX_ETA = 64

logger = logging.getLogger("django_lantern.celery")

# The header names already warned about in this process: one warning each.
_warned: set[str] = set()

Getter = Callable[[str], Any]


@dataclass(frozen=True)
class Incoming:
    """What a task message says about its run, every value validated."""

    request_id: str | None
    task_id: str
    task_name: str
    parent_task_id: str
    root_task_id: str
    published_at: float | None
    eta: float | None
    traceparent: str | None
    tracestate: str | None

    @property
    def run_request_id(self) -> str:
        """The id the run's lines carry: the publisher's, else one both processes derive alike."""
        return self.request_id or fallback_request_id(self.task_id)

    def fields(self) -> dict[str, str]:
        return {
            "task_id": self.task_id,
            "task_name": self.task_name,
            "parent_task_id": self.parent_task_id,
            "root_task_id": self.root_task_id,
        }

    def queue_wait(self, started: float) -> float | None:
        """Seconds from the publish, or from the ETA when later, to ``started``; None if unknown."""
        if self.published_at is None:
            return None
        since = max(self.published_at, self.eta) if self.eta is not None else self.published_at
        # Clocks of publisher and worker hosts differ: never a negative wait.
        return max(0.0, started - since)


def ignored(name: str) -> None:
    """Warn once per process that a header's value was ignored (never the value itself)."""
    if name in _warned:
        return
    _warned.add(name)
    logger.warning("Ignored an invalid %s header in a task message (further ones are ignored silently).", name)


def fallback_request_id(task_id: str) -> str:
    """32 hex digits from a UUID task id (the usual case), else a fresh random id."""
    try:
        return uuid.UUID(task_id).hex
    except (ValueError, TypeError, AttributeError):
        return request_ids.generate()


def _text(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _field(value: Any) -> str:
    return _text(value, MAX_FIELD) or UNKNOWN


def _published_at(value: Any, now: float) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not now - MAX_AGE <= value <= now + MAX_CLOCK_SKEW
    ):
        ignored(PUBLISHED_AT_HEADER)
        return None
    return float(value)


def _eta(value: Any) -> float | None:
    if value is None:
        return None
    text = _text(value, MAX_ETA)
    if text is None:  # the main process sees Celery's parsed datetime
        return value.timestamp() if isinstance(value, datetime) else None
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _trace_header(name: str, value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value, MAX_TRACE_HEADER)
    if text is None:
        ignored(name)
    return text


def _request_id(value: Any, *, warn: bool) -> str | None:
    if warn:
        return request_ids.accept(value, request_ids.TASK_MESSAGE)
    return value if value is not None and request_ids.rejected_length(value) is None else None


def incoming(get: Getter, now: float, *, warn: bool = True) -> Incoming:
    """Read and validate a message's values through ``get(name)`` (None when absent).

    ``warn`` is False where a second reader of the same message (the main
    process) would only repeat the child's warnings.
    """
    return Incoming(
        request_id=_request_id(get(REQUEST_ID_HEADER), warn=warn),
        task_id=_field(get("id")),
        task_name=_field(get("task")),
        parent_task_id=_field(get("parent_id")),
        root_task_id=_field(get("root_id")),
        published_at=_published_at(get(PUBLISHED_AT_HEADER), now),
        eta=_eta(get("eta")),
        traceparent=_trace_header("traceparent", get("traceparent")),
        tracestate=_trace_header("tracestate", get("tracestate")),
    )


def from_task_request(request: Any) -> Getter:
    """The getter for a task's request (the child): attributes, then the raw headers."""
    headers = getattr(request, "headers", None)

    def get(name: str) -> Any:
        value = getattr(request, name, None)
        if value is None and isinstance(headers, dict):
            value = headers.get(name)
        return value

    return get


def from_mapping(values: Any) -> Getter:
    """The getter for a message's headers or a request's dict (the main process)."""
    if not isinstance(values, dict):
        return lambda _name: None
    return values.get
