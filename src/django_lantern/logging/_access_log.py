"""The access line: one record per request on the ``access`` logger.

Its message is the chapter's ``key=value`` line, every client-supplied value
escaped, rendered from the record's typed fields (``logging/_access_record.py``);
the level follows the status (and slowness), static files and the favicon
are DEBUG (``http/_assets.py``), routine lines can be skipped or sampled by
path, and errors and slow requests are always kept.

A healthy probe (``healthy_probe``) keeps the chapter's INFO level, so that
``assertLogs("access")`` sees it, but its message is a ``HealthyProbeLine``,
which ``SkipHealthyProbes`` (on ``build_logging_config()``'s handler) drops;
when every handler that would write the line drops it, the record is not built.
"""

from __future__ import annotations

import logging
import random

from django_lantern.conf import LanternSettings
from django_lantern.context import NO_FIELDS, RequestContext
from django_lantern.http._assets import is_static_asset
from django_lantern.http._client_ip import client_ip
from django_lantern.http._streaming import COMPLETED
from django_lantern.logging._access_direct import DirectAccess, write_direct
from django_lantern.logging._access_record import make_access_record, origin_file
from django_lantern.logging._attached import handlers_reached
from django_lantern.logging.filters import SkipHealthyProbes

# Where an access line comes from, for the formats that say it (ECS, GCP).
_ORIGIN = origin_file(__file__)


class AccessLog:
    """Writes access lines; the loggers are looked up once per name."""

    def __init__(self) -> None:
        self._loggers: dict[str, logging.Logger] = {}
        self._direct = DirectAccess()

    def write(
        self,
        ctx: RequestContext,
        cfg: LanternSettings,
        status: int,
        duration_ms: float,
        outcome: str = COMPLETED,
        error: BaseException | None = None,
        health_probe: bool = False,
        route: str | None = None,
    ) -> None:
        """One line; the user is ``ctx.user_id`` (the middleware decides it); ``outcome`` and
        ``error`` are for a streaming body that failed or was abandoned; ``health_probe``
        for ``/healthz`` and ``/readyz`` (``http/_probes.HEALTH_PROBES``); ``route`` is
        ``ctx.route`` when the caller has read it already."""
        access = self._loggers.get(cfg.access_logger)
        if access is None:
            access = self._loggers.setdefault(cfg.access_logger, logging.getLogger(cfg.access_logger))
        level = _level(ctx.path, cfg, status, duration_ms, outcome)
        if level is None or not access.isEnabledFor(level):
            return
        healthy = health_probe and healthy_probe(cfg, status, duration_ms, outcome)
        if healthy and not _written_anywhere(access):
            return
        ip = client_ip(ctx.request.META, cfg.trusted_proxies) if ctx.request is not None else None
        if not healthy and outcome == COMPLETED and error is None and ctx.fields is NO_FIELDS:
            handler = self._direct.handler(access)
            if handler is not None:  # the default configuration: no record needed (``_access_direct.py``)
                limit = cfg.log_field_max_length
                if route is None:
                    route = ctx.route
                write_direct(handler, access.name, level, _ORIGIN, ctx, route, status, duration_ms, ip, limit)
                return
        record = make_access_record(
            access,
            level,
            request_id=ctx.request_id,
            method=ctx.method,
            path=ctx.path,
            route=ctx.route if route is None else route,
            status=status,
            duration_ms=duration_ms,
            user_id=ctx.user_id,
            client_ip=ip,
            trace_id=ctx.trace_id,
            span_id=ctx.span_id,
            line_limit=cfg.log_field_max_length,
            error=error,
            origin=__file__,
            healthy_probe=healthy,
            cost=ctx.cost,
        )
        if outcome != COMPLETED:
            record.outcome = outcome  # a streaming body that failed or that the client abandoned
        if ctx.fields is not NO_FIELDS:  # from django_lantern.bind()
            attrs = record.__dict__
            for name, value in ctx.fields.items():
                attrs.setdefault(name, value)
        # ``handle`` rather than ``log``: the record is complete, and ``log``
        # would only add a stack walk to find the caller.
        access.handle(record)


def healthy_probe(cfg: LanternSettings, status: int, duration_ms: float, outcome: str = COMPLETED) -> bool:
    """A health probe's answer that is routine: 2xx or 3xx, complete, faster than ``SLOW_PROBE_MS``."""
    slow = cfg.slow_probe_ms
    return status < 400 and outcome == COMPLETED and (slow is None or duration_ms < slow)


def _written_anywhere(logger: logging.Logger) -> bool:
    """Whether a handler that ``logger``'s INFO records reach would write a healthy probe's line
    (with no handler at all, logging's last resort writes WARNING and above only)."""
    return any(
        handler.level <= logging.INFO and not any(type(f) is SkipHealthyProbes for f in handler.filters)
        for handler in handlers_reached(logger)
    )


def _level(path: str, cfg: LanternSettings, status: int, duration_ms: float, outcome: str) -> int | None:
    """The line's level from the status and slowness, or None when the path is
    skipped or sampled out; errors and slow requests are never sampled out."""
    for pattern in cfg.access_log_skip:
        if pattern.search(path):
            return None
    if status < 500 and outcome == COMPLETED and is_static_asset(path):
        # The files a page pulls in, not pages: DEBUG unless the server failed or was slow.
        slow_asset = cfg.slow_request_ms is not None and duration_ms >= cfg.slow_request_ms
        return logging.WARNING if slow_asset else logging.DEBUG
    if status >= 400 or outcome != COMPLETED:
        return logging.WARNING if status < 500 else logging.ERROR
    slow = cfg.slow_request_ms
    if slow is not None and duration_ms >= slow:
        return logging.WARNING
    for pattern, rate in cfg.access_log_sample:
        if pattern.search(path):
            return logging.INFO if random.random() < rate else None
    return logging.INFO
