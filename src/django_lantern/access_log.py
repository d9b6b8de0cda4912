"""The access line: one record per request on the ``access`` logger.

Its message is the chapter's ``key=value`` line, every client-supplied value
escaped; the level follows the status (and slowness), routine lines can be
skipped or sampled by path, and errors and slow requests are always kept.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from django_lantern.client_ip import client_ip
from django_lantern.conf import LanternSettings
from django_lantern.context import RequestContext
from django_lantern.logging.escape import logfmt_value
from django_lantern.streaming import COMPLETED

# The chapter's access line; every client-supplied value is escaped first.
ACCESS_MESSAGE = "method=%s path=%s status=%s duration_ms=%.2f user_id=%s"


class AccessLog:
    """Writes access lines; the loggers are looked up once per name."""

    def __init__(self) -> None:
        self._loggers: dict[str, logging.Logger] = {}

    def write(
        self,
        ctx: RequestContext,
        cfg: LanternSettings,
        status: int,
        duration_ms: float,
        user_id: Any,
        outcome: str = COMPLETED,
        error: BaseException | None = None,
    ) -> None:
        """One line; ``outcome`` and ``error`` are for a streaming body that failed or was abandoned."""
        access = self._loggers.get(cfg.access_logger)
        if access is None:
            access = self._loggers.setdefault(cfg.access_logger, logging.getLogger(cfg.access_logger))
        path = ctx.path
        for pattern in cfg.access_log_skip:
            if pattern.search(path):
                return
        slow = cfg.slow_request_ms
        if status >= 400 or outcome != COMPLETED:
            level = logging.WARNING if status < 500 else logging.ERROR
        elif slow is not None and duration_ms >= slow:
            level = logging.WARNING
        else:
            # Sampling thins routine lines only: errors and slow requests are always kept.
            for pattern, rate in cfg.access_log_sample:
                if pattern.search(path):
                    if random.random() >= rate:
                        return
                    break
            level = logging.INFO
        if not access.isEnabledFor(level):
            return
        extra: dict[str, Any] = {
            "status": status,
            "duration_ms": round(duration_ms, 2),
            "client_ip": client_ip(ctx.request.META, cfg.trusted_proxies) if ctx.request is not None else None,
            "lantern_access": True,
        }
        if outcome != COMPLETED:
            extra["outcome"] = outcome  # a streaming body that failed or that the client abandoned
        access.log(
            level,
            ACCESS_MESSAGE,
            logfmt_value(ctx.method, 32),
            logfmt_value(path, cfg.log_field_max_length),
            status,
            duration_ms,
            user_id,
            extra=extra,
            exc_info=error,
        )
