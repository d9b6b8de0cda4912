"""Log context outside requests: ``bind(**fields)`` and ``propagate(fn)``.

``bind`` is a context manager (``with`` / ``async with``) and a decorator (sync
and async functions). Entered outside any context it starts one of its own,
with a fresh request id unless ``request_id=`` is given, so a cron job, a
worker or a script gets one id on all of its lines. Entered inside a context
(a request, a command, a task, another ``bind``) it keeps that context's id and
adds its fields; leaving restores what was there, through the ``ContextVar``
token, so nested and concurrent binds never see each other's fields.

Called as a plain statement inside a context (``bind(order_id=7)``, never
entered) it adds the fields to that context for the rest of its life: the rest
of the request, access line included.

``propagate(fn)`` carries the current context into another thread (a
``ThreadPoolExecutor`` task); without it a pool thread logs ``"-"``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any, ParamSpec, TypeVar

from django_lantern import request_id as request_ids
from django_lantern._cost import Cost
from django_lantern.context import CONTEXT_FIELDS, LOG_RECORD_ATTRIBUTES, UNKNOWN, RequestContext, current

__all__ = ["ContextThreadPoolExecutor", "bind", "enter_context", "propagate"]

P = ParamSpec("P")
R = TypeVar("R")


# A bound field must not shadow what every record already has: the LogRecord's
# own attributes, the context fields the filter adds and the JSON line's keys.
RESERVED_FIELDS = LOG_RECORD_ATTRIBUTES | {
    "ts",
    "level",
    "logger",
    *CONTEXT_FIELDS,
    "exc_type",
    "exc_message",
    "stack",
}
# Fields come from code, but a loop binding a new key per item must not grow
# every log line without limit.
MAX_FIELDS = 64


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    reserved = sorted(set(fields) & RESERVED_FIELDS)
    if reserved:
        raise ValueError(f"bind() cannot set {', '.join(reserved)}: every log record already has these keys.")
    return fields


def _merge(outer: Mapping[str, Any], inner: Mapping[str, Any]) -> Mapping[str, Any]:
    if not inner:
        return outer
    merged = {**outer, **inner}
    if len(merged) > MAX_FIELDS:
        raise ValueError(f"bind(): at most {MAX_FIELDS} fields may be bound at once; got {len(merged)}.")
    return MappingProxyType(merged)


def _valid_id(value: str | None) -> str | None:
    if value is None:
        return None
    return request_ids.accept(value, request_ids.BIND) or request_ids.generate()


def enter_context(
    request_id: str | None, fields: Mapping[str, Any], secrets: tuple[str, ...] = (), *, own_cost: bool = False
) -> Token[RequestContext | None]:
    """Bind a context and return the token that restores the previous one.

    Outside any context: a new one (``request_id`` or a fresh id). Inside one:
    a copy with the fields added; an HTTP request keeps its own id, any other
    context takes ``request_id`` when one is given. ``secrets`` (a task's
    sensitive argument values) join those of the context it runs in.
    ``own_cost``: a task run or a command, whose line says what it cost; nested in
    another scope, it counts apart and adds to it when it ends (``Cost.settle``).
    """
    parent = current.get()
    if parent is None:
        ctx = RequestContext(request_id or request_ids.generate(), UNKNOWN, UNKNOWN, None)
        ctx.fields = _merge(ctx.fields, fields)
    else:
        keep_id = parent.request is not None or request_id is None
        cost = Cost(parent.cost) if own_cost else None
        ctx = parent.derive(parent.request_id if keep_id else str(request_id), _merge(parent.fields, fields), cost)
    if secrets:
        ctx.secrets = tuple(sorted({*ctx.secrets, *secrets}, key=len, reverse=True))
    return current.set(ctx)


# The tokens of the ``with bind()`` blocks open in this context, innermost last.
# Kept here rather than on the Binding, so that one Binding object (a module
# constant, say) can be entered by several threads and tasks at once.
_open_blocks: ContextVar[tuple[Token[RequestContext | None], ...]] = ContextVar("django_lantern_binds", default=())


class Binding:
    """What ``bind()`` returns: a context manager and a decorator."""

    __slots__ = ("_applied", "_fields", "_request_id")

    def __init__(self, request_id: str | None, fields: dict[str, Any]) -> None:
        self._request_id = _valid_id(request_id)
        self._fields: Mapping[str, Any] = MappingProxyType(_checked(fields))
        # (context, fields before, fields installed) when applied as a statement.
        self._applied: tuple[RequestContext, Mapping[str, Any], Mapping[str, Any]] | None = None
        ctx = current.get()
        if ctx is not None and self._fields:
            before = ctx.fields
            ctx.fields = _merge(before, self._fields)
            self._applied = (ctx, before, ctx.fields)

    def _take_back_statement(self) -> None:
        """Used with ``with`` or as a decorator: undo the plain-statement effect."""
        applied, self._applied = self._applied, None
        if applied is not None:
            ctx, before, installed = applied
            if ctx.fields is installed:  # nothing was bound on top of it since
                ctx.fields = before

    def __enter__(self) -> Binding:
        self._take_back_statement()
        token = enter_context(self._request_id, self._fields)
        _open_blocks.set((*_open_blocks.get(), token))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        blocks = _open_blocks.get()
        _open_blocks.set(blocks[:-1])
        current.reset(blocks[-1])

    async def __aenter__(self) -> Binding:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            # The wrapper would return before the body runs: nothing would be bound.
            raise TypeError(f"bind() cannot decorate the generator {fn.__qualname__}; use `with bind(...)` inside it.")
        self._take_back_statement()
        request_id, fields = self._request_id, self._fields
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                token = enter_context(request_id, fields)
                try:
                    return await fn(*args, **kwargs)
                finally:
                    current.reset(token)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            token = enter_context(request_id, fields)
            try:
                return fn(*args, **kwargs)
            finally:
                current.reset(token)

        return run


def bind(*, request_id: str | None = None, **fields: Any) -> Binding:
    """Bind a log context (see the module docstring); ``with bind(job="nightly"): ...``."""
    return Binding(request_id, fields)


def propagate(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` wrapped to run in a copy of the caller's context, in any thread.

    Call it where the work is handed over: ``pool.submit(propagate(work), item)``.
    Each call runs in its own copy, so one wrapper may run in several threads at
    once and nothing it binds stays behind in the pool thread.
    """
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in the submitter's context."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        return super().submit(propagate(fn), *args, **kwargs)
