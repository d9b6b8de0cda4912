"""Where each request in flight is, and ``/threadz``: every thread's stack, tagged with its request.

A stack is ``file:line in function`` frames, outermost first, no locals,
through the scrubber, at most ``STACK_MAX_BYTES`` (the innermost frames are
kept: they say where the request is stuck). The same stacks go on the
``lantern.inflight`` lines (``logging/_inflight.py``) and in the view.

Which stack a request has depends on where it runs (``http/_inflight.py``):

- WSGI (gunicorn sync or gthread, runserver): the thread that runs the view.
- ASGI with a sync view: a thread of asgiref's runs the view; the request's
  task only awaits it. That thread is the one with a frame whose ``request``
  is this request (looked up here, at dump time, never per request).
- ASGI with an async view: the task's chain of coroutines, down to the
  ``await`` it is suspended at (no thread holds it between two steps).
- ASGI with a sync middleware (WhiteNoise, say) above an async view: the
  middleware's thread waits in asgiref for a coroutine the event loop runs;
  the stack is the thread's, then that coroutine's chain (the one asgiref's
  ``AsyncToSync`` frame in that thread waits for).

``/threadz`` has the access rule of ``/metrics`` (``_views.is_allowed``), the
same 403, ``Cache-Control: no-store``; text, or JSON with ``?format=json`` or
``Accept: application/json``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from types import FrameType
from typing import Any

from django.http import HttpRequest, HttpResponse

from django_lantern.context import UNKNOWN
from django_lantern.http._inflight import snapshot
from django_lantern.http._probes import PROBE_METHODS, not_allowed
from django_lantern.metrics._views import _wants_json, forbidden, is_allowed
from django_lantern.scrubbing import scrub_text

STACK_MAX_BYTES = 4096
# Deeper than any real stack; a bound so a runaway recursion costs a bounded walk.
_MAX_FRAMES = 500
_OMITTED = "... {} outer frames omitted"


def _frame_line(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"


def thread_frames(frame: FrameType | None) -> list[str]:
    """``frame`` and its callers, outermost first."""
    lines: list[str] = []
    while frame is not None and len(lines) < _MAX_FRAMES:
        lines.append(_frame_line(frame))
        frame = frame.f_back
    lines.reverse()
    return lines


def _coroutine_chain(awaited: Any) -> list[FrameType]:
    """A coroutine's frames, from its own down to the ``await`` the chain waits at."""
    found: list[FrameType] = []
    while awaited is not None and len(found) < _MAX_FRAMES:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break  # a Future or a finished coroutine: the chain ends here
        found.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return found


def coroutine_frames(coroutine: Any) -> list[str]:
    return [_frame_line(frame) for frame in _coroutine_chain(coroutine)]


def _holds(frame: FrameType, request: Any) -> bool:
    code = frame.f_code
    return ("request" in code.co_varnames or "request" in code.co_cellvars) and frame.f_locals.get("request") is request


def _awaited_in(frame: FrameType | None) -> Any:
    """The coroutine a thread waits for in asgiref (``AsyncToSync``, its ``awaitable``), or None.

    Only when the thread's innermost frames are waits (``threading``) and asgiref's own: a thread
    running its own code is where the request is."""
    for _ in range(8):
        if frame is None:
            return None
        code = frame.f_code
        if "asgiref" not in code.co_filename and "threading" not in code.co_filename:
            return None
        if code.co_name == "__call__" and "awaitable" in (*code.co_varnames, *code.co_cellvars):
            return frame.f_locals.get("awaitable")
        frame = frame.f_back
    return None


def render(lines: list[str]) -> str:
    """The one stack text: scrubbed, then cut from the outer end to ``STACK_MAX_BYTES``."""
    kept = [scrub_text(line) for line in lines]
    size = sum(len(line.encode()) + 1 for line in kept)
    dropped = 0
    while kept and size > STACK_MAX_BYTES - 64:  # room for the note
        size -= len(kept[0].encode()) + 1
        kept.pop(0)
        dropped += 1
    if dropped:
        kept.insert(0, _OMITTED.format(dropped))
    return "\n".join(kept)


def _serving_thread(request: Any, frames: dict[int, FrameType]) -> int | None:
    """The thread with a frame whose local ``request`` is ``request`` (a sync view under ASGI).

    Not the caller's own thread: its frames hold ``request`` as this lookup's argument."""
    me = threading.get_ident()
    for ident, frame in frames.items():
        if ident == me:
            continue
        current: FrameType | None = frame
        while current is not None:
            if _holds(current, request):
                return ident
            current = current.f_back
    return None


class InFlight:
    """One request in flight: its facts and where it runs (a thread ident, else a task)."""

    __slots__ = ("coroutine", "ctx", "elapsed_ms", "exchange", "request_id", "route", "thread")
    # ``thread``: the thread that runs the request, if any; ``coroutine``: the chain it is in
    # (an async view), shown after the thread's frames when both are known.

    def __init__(self, exchange: Any, where: Any, frames: dict[int, FrameType], now: float) -> None:
        self.exchange = exchange
        self.ctx = ctx = exchange.ctx
        self.request_id: str = ctx.request_id
        try:
            self.route: str = ctx.route
        except Exception:  # the URL resolver's state is read from another thread: never let it fail the dump
            self.route = UNKNOWN
        self.elapsed_ms = round((now - exchange.started) * 1000, 1)
        self.thread: int | None = where if isinstance(where, int) else None
        self.coroutine: Any = None
        if self.thread is None:
            self.thread = _serving_thread(exchange.request, frames)
            if self.thread is None and where is not None:
                self.coroutine = where.get_coro()  # an async view: the request's own task
        if self.thread is not None:
            self.coroutine = _awaited_in(frames.get(self.thread))


def in_flight(frames: dict[int, FrameType] | None = None, older_than_ms: float = 0.0) -> list[InFlight]:
    """The requests in flight now (those running for at least ``older_than_ms``), oldest first."""
    now = time.perf_counter()
    oldest = now - older_than_ms / 1000
    running = [(exchange, where) for exchange, where in snapshot().items() if exchange.started <= oldest]
    if not running:
        return []
    if frames is None:
        frames = sys._current_frames()
    found = [InFlight(exchange, where, frames, now) for exchange, where in running]
    found.sort(key=lambda item: -item.elapsed_ms)
    return found


def request_stack(item: InFlight, frames: dict[int, FrameType], skip: FrameType | None = None) -> str:
    """The rendered stack of one request in flight; ``skip``: the frame to start from in the caller's thread."""
    lines: list[str] = []
    if item.thread is not None:
        frame = frames.get(item.thread)
        if item.thread == threading.get_ident() and skip is not None:
            frame = skip
        lines = thread_frames(frame)
    if item.coroutine is not None:
        lines += coroutine_frames(item.coroutine)  # what the thread waits for, or the request's own task
    return render(lines)


def dump() -> dict[str, Any]:
    """Every thread with its stack and the request it serves, then the requests that hold no thread."""
    frames = sys._current_frames()
    requests = in_flight(frames)
    by_thread = {item.thread: item for item in requests if item.thread is not None}
    names = {thread.ident: thread for thread in threading.enumerate()}
    threads = []
    for ident, frame in frames.items():
        thread = names.get(ident)
        item = by_thread.get(ident)
        threads.append(
            {
                "name": thread.name if thread is not None else str(ident),
                "ident": ident,
                "daemon": thread.daemon if thread is not None else None,
                "request_id": item.request_id if item else None,
                "route": item.route if item else None,
                "elapsed_ms": item.elapsed_ms if item else None,
                "stack": (request_stack(item, frames) if item else render(thread_frames(frame))).splitlines(),
            }
        )
    tasks = [
        {
            "request_id": item.request_id,
            "route": item.route,
            "elapsed_ms": item.elapsed_ms,
            "stack": request_stack(item, frames).splitlines(),
        }
        for item in requests
        if item.thread is None
    ]
    return {"pid": os.getpid(), "threads": threads, "tasks": tasks}


def as_text(found: dict[str, Any]) -> str:
    parts = [f"pid {found['pid']}: {len(found['threads'])} threads, {len(found['tasks'])} async requests\n"]
    for entry in [*found["threads"], *found["tasks"]]:
        title = f"thread {entry['name']} ({entry['ident']})" if "ident" in entry else "task"
        if entry["request_id"] is not None:
            title += f" request_id={entry['request_id']} route={entry['route']} elapsed_ms={entry['elapsed_ms']}"
        parts.append("\n" + title + "\n" + "".join(f"  {line}\n" for line in entry["stack"]))
    return "".join(parts)


def threads_response(request: HttpRequest) -> HttpResponse:
    if request.method not in PROBE_METHODS:
        return not_allowed()
    if not is_allowed(request):
        return forbidden()
    found = dump()
    if _wants_json(request):
        response = HttpResponse(json.dumps(found), content_type="application/json")
    else:
        response = HttpResponse(as_text(found), content_type="text/plain; charset=utf-8")
    response["Content-Length"] = str(len(response.content))
    if request.method == "HEAD":
        response.content = b""
    response["Cache-Control"] = "no-store"
    return response
