"""The access record: a ``logging.LogRecord`` whose fields are the single source.

The middleware knows everything about the line in advance (method, path,
route, status, duration, user, client address, request and trace ids), so the
record is built in place with those fields set as typed attributes: no caller
lookup (``findCaller`` walks the stack on every ``logger.log``), and the context
filter finds its work already done. The message, for text formatters,
``assertLogs`` and any handler of the user's, is rendered from the same fields;
the JSON formatters read the fields and render the message again from the
scrubbed ``path`` (see ``formatters._BaseFormatter.fields``), never parsing it.
"""

from __future__ import annotations

import logging
from typing import Any

from django_lantern.context import UNKNOWN
from django_lantern.logging.escape import logfmt_value

__all__ = ["AccessRecord", "access_line"]

# How many characters of the method a line shows; an extension method is client text.
METHOD_LIMIT = 32


def access_line(method: object, path: object, status: object, duration_ms: float, user_id: object, limit: int) -> str:
    """The chapter's ``key=value`` access line; every value is escaped, the path cut at ``limit``.

    ``user_id`` is ``None`` (shown ``None``, as the chapter's line has it) when unknown.
    """
    return (
        f"method={logfmt_value(method, METHOD_LIMIT)} path={logfmt_value(path, limit)} "
        f"status={logfmt_value(status, 16)} duration_ms={duration_ms:.2f} user_id={logfmt_value(user_id, 64)}"
    )


class AccessRecord(logging.LogRecord):
    """One request's access record. A normal ``LogRecord`` (handlers, filters and
    formatters written for the standard library keep working); its ``msg`` is
    the rendered line and it has no ``args``."""

    def __init__(
        self,
        name: str,
        level: int,
        *,
        request_id: str,
        method: str,
        path: str,
        route: str,
        status: int,
        duration_ms: float,
        user_id: Any,
        client_ip: str | None,
        trace_id: str = UNKNOWN,
        span_id: str = UNKNOWN,
        path_limit: int = 4096,
        error: BaseException | None = None,
        origin: str = __file__,
    ) -> None:
        exc_info = (type(error), error, error.__traceback__) if error is not None else None
        message = access_line(method, path, status, duration_ms, user_id, path_limit)
        # Where the line comes from is known (``origin``, the writer's module):
        # no stack walk to find it.
        super().__init__(name, level, origin, 0, message, None, exc_info, "write")
        # The context fields, as ``RequestContextFilter`` would have set them.
        self.request_id = request_id
        self.user_id = UNKNOWN if user_id is None else user_id
        self.method = method
        self.path = path
        self.route = route
        self.trace_id = trace_id
        self.span_id = span_id
        # The access fields, typed: what the JSON formatters read.
        self.status = status
        self.duration_ms = round(duration_ms, 2)
        self.client_ip = client_ip
        self.lantern_access = True
