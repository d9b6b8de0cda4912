"""``TextFormatter``: ``key=value`` lines for people, from the same fields as the JSON lines."""

from __future__ import annotations

import logging

from django_lantern.context import UNKNOWN
from django_lantern.logging._base import STACK_LIMIT, _BaseFormatter
from django_lantern.logging._escape import logfmt_value
from django_lantern.logging._record_parts import _count_failure, rfc3339


class TextFormatter(_BaseFormatter):
    """``key=value`` lines for people: ``ts level logger`` then the context,
    then the message. Every value is escaped (see ``escape.logfmt_value``), so
    no client-supplied text can forge a field or start a new line.

    The access record's message is already ``key=value`` pairs with escaped
    values and is appended as it is; any other message is one quoted ``msg``.
    """

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self._render(record)
        except Exception as exc:
            _count_failure("log_format", exc)
            return (
                f"{rfc3339(record.created)} ERROR django_lantern.logging "
                f'msg="a log record could not be formatted" exc_type={type(exc).__qualname__}'
            )

    def _render(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        limit = self.field_limit
        parts = [fields.pop("ts"), fields.pop("level").upper(), logfmt_value(fields.pop("logger"), limit)]
        message = fields.pop("message")
        is_access = record.__dict__.get("lantern_access", False)
        for key in ("request_id", "user_id", "trace_id", "span_id"):
            value = fields.pop(key)
            if value == UNKNOWN and key != "request_id":
                continue
            if is_access and key == "user_id":
                continue  # the access message carries user_id already
            parts.append(f"{key}={logfmt_value(value, limit)}")
        if is_access:
            # method, path and user_id are already in the message.
            for key in ("method", "path", "status", "duration_ms", "lantern_access"):
                fields.pop(key, None)
            parts.append(f"route={logfmt_value(fields.pop('route'), limit)}")
            parts.append(message)
        else:
            for key in ("method", "path", "route"):
                value = fields.pop(key)
                if value != UNKNOWN:
                    parts.append(f"{key}={logfmt_value(value, limit)}")
            parts.append(f"msg={logfmt_value(message, limit)}")
        stack = fields.pop("stack", None)
        for key, value in fields.items():
            parts.append(f"{logfmt_value(key, 64)}={logfmt_value(value, limit)}")
        line = " ".join(parts)
        if stack:
            # Continuation lines are indented, and each is escaped, so an
            # exception message cannot start a line that looks like a record.
            line += "".join(
                "\n    " + logfmt_value(frame_line, STACK_LIMIT).strip('"')
                for frame_line in stack.rstrip("\n").split("\n")
            )
        return line
