"""Bench-only: what each piece of lantern costs inside real requests, under a real server.

``settings_pageinplace`` (and ``settings_pagebareinplace``) name ``install`` as
their ``BENCH_BEFORE_SETUP`` hook. It wraps the functions listed in
``COMPONENTS`` in place, from the outside (the package is never edited), with
accumulators of wall time (``perf_counter_ns``) and this thread's CPU time
(``thread_time_ns``). The wrappers keep a stack, so each component gets both
its inclusive time and its own time (inclusive less the wrapped components it
called). Every half second of serving, after a request, the worker writes its
totals to ``inplace-<pid>.json`` in ``BENCH_INPLACE_DIR`` (else ``BENCH_TMP``); ``harness.inplace`` takes the
difference of two snapshots, so warm-up is left out and µs per request is
time over requests within the same window.

A name missing from the tree being measured (another branch moved it) is
listed as absent, not an error. Each wrapped call costs four clock reads (the
CPU clock is a system call), which its caller's own figures include; the
worker measures that cost at start-up and reports it (``wrapper_ns``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchproj.base import TMP

# (label, "module:attribute.path"); indentation in the label shows what usually calls what.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("request (WSGIHandler.__call__)", "django.core.handlers.wsgi:WSGIHandler.__call__"),
    ("lantern middleware (__call__)", "django_lantern.middleware:LanternMiddleware.__call__"),
    ("  inner chain: other middleware + view", "django_lantern.middleware:LanternMiddleware.get_response"),
    ("  enter: id, context, span", "django_lantern.middleware:LanternMiddleware._enter"),
    ("    open_context (request id, context)", "django_lantern.http._request_id:open_context"),
    ("    metrics: request_started", "django_lantern.metrics._recorder:request_started"),
    ("  user id (resolve_user_id)", "django_lantern.http._users:resolve_user_id"),
    ("  end: metrics, headers, access line", "django_lantern.middleware:LanternMiddleware._end"),
    ("    settle (_settle)", "django_lantern.middleware:LanternMiddleware._settle"),
    ("      metrics: request_finished", "django_lantern.metrics._recorder:request_finished"),
    ("      response headers (decorate)", "django_lantern.http._response_headers:decorate"),
    ("      access line (AccessLog.write)", "django_lantern.logging._access_log:AccessLog.write"),
    ("        level (_level)", "django_lantern.logging._access_log:_level"),
    ("        client address (client_ip)", "django_lantern.http._client_ip:client_ip"),
    (
        "        direct path's decision (DirectAccess.handler)",
        "django_lantern.logging._access_direct:DirectAccess.handler",
    ),
    ("        direct line (write_direct)", "django_lantern.logging._access_direct:write_direct"),
    ("          cost values (Cost.values)", "django_lantern._cost:Cost.values"),
    ("          JSON line (json_access_line)", "django_lantern.logging._access_json:json_access_line"),
    ("          write (write_line)", "django_lantern.logging.handlers:SafeStreamHandler.write_line"),
    ("        record creation (make_access_record)", "django_lantern.logging._access_record:make_access_record"),
    ("        context filter", "django_lantern.logging.filters:RequestContextFilter.filter"),
    ("        formatting (JsonFormatter.format)", "django_lantern.logging.formatters:JsonFormatter.format"),
    ("        write (StreamHandler.emit less formatting)", "logging:StreamHandler.emit"),
    ("DB cost per query (Cost.query)", "django_lantern._cost:Cost.query"),
    ("query execution (CursorWrapper._execute)", "django.db.backends.utils:CursorWrapper._execute"),
)

_INNER = "django_lantern.middleware:LanternMiddleware.get_response"
# name -> [calls, wall_incl, cpu_incl, wall_own, cpu_own] in ns
_totals: dict[str, list[int]] = {}
_absent: list[str] = []
_overhead: list[int] = [0, 0]  # ns of wall and CPU one wrapped call adds to its caller (``_calibrate``)
_stack: list[list[int]] = []  # per active call: [wall_start, cpu_start, child_wall, child_cpu]
_state = {"last_dump": 0.0}
_wall = time.perf_counter_ns
_cpu = time.thread_time_ns
_ROOT = COMPONENTS[0][0]
_DUMP_EVERY_S = 0.5


def _dump() -> None:
    path = Path(os.environ.get("BENCH_INPLACE_DIR") or TMP) / f"inplace-{os.getpid()}.json"
    scratch = path.with_suffix(".tmp")
    snapshot = {"pid": os.getpid(), "components": _totals, "absent": _absent, "wrapper_ns": _overhead}
    scratch.write_text(json.dumps(snapshot))
    os.replace(scratch, path)


def _timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    totals = _totals.setdefault(label, [0, 0, 0, 0, 0])
    root = label == _ROOT

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frame = [_wall(), _cpu(), 0, 0]
        _stack.append(frame)
        try:
            return fn(*args, **kwargs)
        finally:
            wall, cpu = _wall() - frame[0], _cpu() - frame[1]
            _stack.pop()
            totals[0] += 1
            totals[1] += wall
            totals[2] += cpu
            totals[3] += wall - frame[2]
            totals[4] += cpu - frame[3]
            if _stack:
                parent = _stack[-1]
                parent[2] += wall
                parent[3] += cpu
            if root and time.monotonic() - _state["last_dump"] > _DUMP_EVERY_S:
                _state["last_dump"] = time.monotonic()
                _dump()

    return wrapper


def _replace_everywhere(original: Any, replacement: Any) -> None:
    """Point every loaded module's global that holds ``original`` at ``replacement``
    (``from x import f`` copies the reference into the importer)."""
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not namespace:
            continue
        for name, value in list(namespace.items()):
            if value is original:
                namespace[name] = replacement


def _wrap_get_response(label: str, cls: type) -> None:
    """The inner chain is an instance attribute set in ``__init__``: wrap it there."""
    original_init = cls.__init__

    @functools.wraps(original_init)
    def __init__(self: Any, get_response: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, get_response, *args, **kwargs)
        self.get_response = _timed(label, self.get_response)

    cls.__init__ = __init__  # type: ignore[misc]


def install() -> None:
    """Wrap every component present in this tree; record the absent ones."""
    absent: list[str] = []
    for label, target in COMPONENTS:
        module_name, _, attr_path = target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, attr = attr_path.split(".")
            for part in parents:
                owner = getattr(owner, part)
            if target == _INNER:
                _wrap_get_response(label, owner)
                _totals.setdefault(label, [0, 0, 0, 0, 0])
                continue
            raw = inspect.getattr_static(owner, attr)
        except (ImportError, AttributeError):
            absent.append(label)
            continue
        if isinstance(raw, staticmethod):
            setattr(owner, attr, staticmethod(_timed(label, raw.__func__)))
        elif inspect.isclass(owner):
            setattr(owner, attr, _timed(label, raw))
        else:
            wrapped = _timed(label, raw)
            setattr(owner, attr, wrapped)
            _replace_everywhere(raw, wrapped)
    _absent[:] = absent
    _calibrate()


def _calibrate(n: int = 2000) -> None:
    """What one wrapped call adds to its caller's figures: a wrapped no-op against a bare one.
    Kept apart from the components (its stack frame has no parent, so nothing is charged)."""

    def noop() -> None:
        return None

    wrapped = _timed("__calibration__", noop)
    _totals.pop("__calibration__")
    results = []
    for fn in (noop, wrapped):
        wall, cpu = _wall(), _cpu()
        for _ in range(n):
            fn()
        results.append(((_wall() - wall) / n, (_cpu() - cpu) / n))
    _overhead[:] = [round(results[1][0] - results[0][0]), round(results[1][1] - results[0][1])]
