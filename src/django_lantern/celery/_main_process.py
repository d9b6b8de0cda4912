"""The worker's main process: the ids on its own lines, and runs whose child was killed.

Under the prefork pool the main process receives each message and hands it
to a child; the child binds the run's context (``task_prerun``) and writes the
task line (``task_postrun``). Two things happen where no child can help:

- Celery's ``Received task`` line, and any error about the message, are
  written by the main process before a child sees it. A wrapper around the
  task strategy (``Task.Strategy``) binds the message's ids around the
  handling of each message, so those lines carry ``request_id``, ``task_id``,
  ``task_name``, ``parent_task_id`` and ``root_task_id`` like the run's own.
- A child killed in the middle of a run (the OOM killer, the hard
  ``--time-limit``, an operator's ``kill -9``) never reaches ``task_postrun``:
  no task line, no count. Celery notices in the main process
  (``Request.on_timeout`` for the hard limit, ``Request.on_failure`` with
  ``WorkerLostError``) and logs an ERROR line. The request class installed on
  the app's base task (``Task.Request``) binds the same ids around both, and
  records the run as a ``failure`` (``error_type`` ``TimeLimitExceeded`` or
  ``WorkerLostError``) through the same ``record_task`` as every run.

Counted once: whoever counts a run first, the child at ``task_postrun`` or
the main process when the child is lost, claims it in a small table of shared
memory created here before the pool forks (:class:`Reported`); a later claim
of the same run (the hard limit reaches ``on_timeout``, then ``on_failure``;
billiard's SIGTERM before its SIGKILL lets the child reach ``task_postrun``)
finds it taken and counts nothing.

The wrappers go on Celery's root ``Task`` class, so every task class
inherits them (``instrument`` is process-wide, like Celery's signals), and on
an app's own base task when it brings a strategy or request class of its own
(they are then subclassed and called into). A task class that sets its own
``Strategy`` or ``Request`` after that keeps it, without lantern's.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import struct
import time
from collections.abc import Iterator
from contextvars import Token
from typing import Any

from django_lantern._errors import report_internal_error
from django_lantern.binding import enter_context
from django_lantern.celery import _headers as celery_headers
from django_lantern.context import RequestContext, current
from django_lantern.jobs._task_line import FAILURE, record_task

_MARK = "_lantern_wrapped"
_SLOTS = 4096
_SLOT = struct.Struct("Q")


class Reported:
    """Which runs have been counted, shared by the main process and every child it forks.

    A fixed table of 64-bit digests of ``(task id, retries, child pid)`` in
    anonymous shared memory (``MAP_SHARED``, inherited across ``fork``),
    indexed by the digest: bounded whatever the number of tasks. The pid
    tells a redelivered run (same id and retries, another child) from the
    lost one. An overwritten slot can only make a mark look absent.
    """

    def __init__(self) -> None:
        self._table = mmap.mmap(-1, _SLOTS * _SLOT.size)

    @staticmethod
    def _digest(task_id: str, retries: Any, pid: int) -> int:
        key = f"{task_id}\0{retries if isinstance(retries, int) else 0}\0{pid}".encode("utf-8", "replace")
        return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") or 1

    def claim(self, task_id: str, retries: Any, pid: int) -> bool:
        """True for the first caller for this run (who then counts it), False for any later one.

        Check and mark are two steps, not one atomic one: a child and the
        main process claiming within the same microsecond could both count.
        """
        digest = self._digest(task_id, retries, pid)
        offset = (digest % _SLOTS) * _SLOT.size
        if _SLOT.unpack_from(self._table, offset)[0] == digest:
            return False
        _SLOT.pack_into(self._table, offset, digest)
        return True


# Created when instrument() first runs, in every process, so that it exists
# in a worker's main process before the pool forks its children.
reported: Reported | None = None


def prepare() -> None:
    global reported
    if reported is None:
        reported = Reported()


def enter(
    message: celery_headers.Incoming, secrets: tuple[str, ...] = (), *, own_cost: bool = False, **fields: str
) -> Token[RequestContext | None]:
    """Bind a run's context from its message, in the child and in the main process alike.

    Inside a context already (an eager run in a request or a bind), a message
    without an id keeps the current one; outside, such a message gets the id
    derived from its task id, the same in both processes. ``secrets`` are the
    run's sensitive argument values (``scrubbing.argument_secrets``); ``own_cost``
    for the run itself, whose task line says what it cost.
    """
    request_id = message.request_id if current.get() is not None else message.run_request_id
    return enter_context(request_id, {**message.fields(), **fields}, secrets, own_cost=own_cost)


@contextlib.contextmanager
def bound(message: celery_headers.Incoming) -> Iterator[None]:
    """The message's ids on every line written inside (the same ids the child binds)."""
    token = enter(message)
    try:
        yield
    finally:
        current.reset(token)


def _incoming(values: Any) -> celery_headers.Incoming:
    # The child has warned about these values already (or will).
    return celery_headers.incoming(celery_headers.from_mapping(values), time.time(), warn=False)


# -- Celery's lines about a message ----------------------------------------------
def _wrap_strategy(base: Any) -> Any:
    def strategy(task: Any, app: Any, consumer: Any, **kwargs: Any) -> Any:
        handler = _resolve(base)(task, app, consumer, **kwargs)

        def handle(message: Any, *args: Any, **kw: Any) -> Any:
            try:
                message_ids = _incoming(getattr(message, "headers", None))
            except Exception as exc:
                report_internal_error("celery_received", exc)
                return handler(message, *args, **kw)
            with bound(message_ids):
                return handler(message, *args, **kw)

        return handle

    setattr(strategy, _MARK, True)
    return strategy


# -- runs whose child was killed -------------------------------------------------
def _lost_error(exc: Any) -> str | None:
    """The ``error_type`` of a run lost with its child, or None for an ordinary outcome."""
    from billiard.einfo import ExceptionWithTraceback  # type: ignore[import-untyped]
    from billiard.exceptions import TimeLimitExceeded, WorkerLostError  # type: ignore[import-untyped]

    if isinstance(exc, ExceptionWithTraceback):
        exc = exc.exc
    if isinstance(exc, (WorkerLostError, TimeLimitExceeded)):
        return str(type(exc).__qualname__)
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        return "WorkerLostError"  # billiard reports the child's exit this way too
    return None


def claim(task_id: str, retries: Any, pid: Any) -> bool:
    """Whether the caller is the one to count this run (see :class:`Reported`)."""
    if reported is None or not isinstance(pid, int):
        return True  # no table (not forked by an instrumented main process), or never reached a child
    return reported.claim(task_id, retries, pid)


def count_lost(request: Any, message: celery_headers.Incoming, error_type: str) -> None:
    """Record a run the child could not report, unless it did (or this process already has)."""
    retries = request.request_dict.get("retries", 0)
    if not claim(message.task_id, retries, getattr(request, "worker_pid", None)):
        return
    started = getattr(request, "time_start", None)
    now = time.time()
    duration = max(0.0, now - started) if isinstance(started, float) else 0.0
    wait = message.queue_wait(started) if isinstance(started, float) else None
    record_task(
        str(request.name),
        FAILURE,
        duration=duration,
        queue_wait=wait,
        retries=retries if isinstance(retries, int) else 0,
        error_type=error_type,
    )


def _request_class(base: Any) -> Any:
    class Request(base):  # type: ignore[misc]
        """Celery's request, with the message's ids bound and a lost run counted."""

        def on_timeout(self, soft: bool, timeout: float) -> None:
            with self._lantern_bound() as message:
                if not soft and message is not None:
                    _safely(count_lost, self, message, "TimeLimitExceeded")
                super().on_timeout(soft, timeout)

        def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
            with self._lantern_bound() as message:
                error_type = _safely(_lost_error, getattr(exc_info, "exception", None))
                if error_type is not None and message is not None:
                    _safely(count_lost, self, message, error_type)
                super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

        @contextlib.contextmanager
        def _lantern_bound(self) -> Iterator[celery_headers.Incoming | None]:
            message = _safely(lambda: _incoming(self.request_dict))
            if message is None:
                yield None
                return
            with bound(message):
                yield message

    Request.__qualname__ = Request.__name__ = f"Lantern{getattr(base, '__name__', 'Request')}"
    Request.__module__ = __name__
    setattr(Request, _MARK, True)
    return Request


def _safely(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:  # never into Celery's own failure handling
        report_internal_error("celery_lost_run", exc)
        return None


def _resolve(name: Any) -> Any:
    """A ``"module:attribute"`` setting's object (or the object itself), as Celery resolves them."""
    from kombu.utils.imports import symbol_by_name

    return symbol_by_name(name)  # type: ignore[no-untyped-call]


def install(task_cls: Any) -> None:
    """Wrap a task class's strategy and request class (once: a wrapped one is left alone).

    Called for Celery's root ``Task`` (every task class inherits the
    wrappers) and for an app's base task, in case its ``task_cls`` has a
    strategy or request class of its own.
    """
    if not getattr(_resolve(task_cls.Strategy), _MARK, False):
        # staticmethod: a plain function on a class would receive the task as a first argument.
        task_cls.Strategy = staticmethod(_wrap_strategy(task_cls.Strategy))
    base_request = _resolve(task_cls.Request)
    if not getattr(base_request, _MARK, False):
        task_cls.Request = _request_class(base_request)
