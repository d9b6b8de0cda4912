"""What every vendor schema shares: the default JSON fields, regrouped.

A schema formatter is a ``JsonFormatter`` whose ``payload`` takes the fields
the default schema builds (already scrubbed, capped and made JSON-safe) and
renames or regroups them. So every guarantee of the default line holds for
every schema: the scrubber, the field caps, strict JSON, one line per record,
and a fallback line when a record cannot be rendered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from django_lantern._cost import COST_FIELDS
from django_lantern.context import CONTEXT_FIELDS, UNKNOWN, current
from django_lantern.logging._record_parts import rfc3339
from django_lantern.logging.formatters import JsonFormatter
from django_lantern.scrubbing._cut import truncate

# The keys of the default schema that a vendor schema maps to its own names;
# every other key of a record is one of its ``extra`` fields.
KNOWN_FIELDS = frozenset(
    {
        "ts",
        "level",
        "logger",
        "message",
        *CONTEXT_FIELDS,
        "status",
        "duration_ms",
        "client_ip",
        "exc_type",
        "exc_message",
        "stack",
        "stack_info",
        *COST_FIELDS,
    }
)

USER_AGENT_LIMIT = 256


def known(value: Any) -> bool:
    """False for the "not known" markers of the default schema."""
    return value is not None and value != UNKNOWN


def env(name: str, limit: int = 256) -> str:
    """A deployment variable (``DD_ENV``...), stripped and capped."""
    return truncate(os.environ.get(name, "").strip(), limit)


def user_agent(formatter: JsonFormatter) -> str | None:
    """The current request's ``User-Agent``, scrubbed and capped, if any.

    Read at format time, in the thread that logs (the handlers format before
    queueing), where the request context is still bound.
    """
    ctx = current.get()
    request = ctx.request if ctx is not None else None
    if request is None:
        return None
    value = request.META.get("HTTP_USER_AGENT")
    if not isinstance(value, str) or not value:
        return None
    return formatter._scrub_capped(value, USER_AGENT_LIMIT)


def _place(out: dict[str, Any], parts: list[str], value: Any) -> bool:
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            return False
        node = child
    if parts[-1] in node:
        return False
    node[parts[-1]] = value
    return True


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}``.

    Keys are placed in order; a key that collides with one already placed
    (the same path, or a path through a non-object value) is kept under
    ``lantern.extra`` with its dotted name, so nothing is lost or overwritten.
    """
    out: dict[str, Any] = {}
    collisions: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        reserved = parts[0] == "lantern" or not all(parts)
        if reserved or not _place(out, parts, value):
            collisions[key] = value
    if collisions:
        out["lantern"] = {"extra": collisions}
    return out


def add_extras(flat: dict[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``extras`` to ``flat``; return those whose name the schema already uses."""
    collisions: dict[str, Any] = {}
    for key, value in extras.items():
        if key in flat:
            collisions[key] = value
        else:
            flat[key] = value
    return collisions


def cost_fields(fields: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """What the line's request or run cost (``_cost.COST_FIELDS``), known values only, apart
    from ``response_bytes`` (every schema has a place of its own for it), and ``response_bytes``."""
    cost = {key: fields[key] for key in COST_FIELDS if key != "response_bytes" and fields.get(key) is not None}
    return cost, fields.get("response_bytes")


def add_lantern(out: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``out`` with ``values`` under its ``lantern`` object: where a schema without a
    field of its own for them (the cost fields) keeps ours."""
    if values:
        holder = out.get("lantern")
        if not isinstance(holder, dict):
            holder = out["lantern"] = {}
        holder.update(values)
    return out


def keep_collisions(out: dict[str, Any], collisions: Mapping[str, Any]) -> dict[str, Any]:
    """``out`` with ``collisions`` under ``lantern.extra``."""
    if collisions:
        holder = out.get("lantern")
        if not isinstance(holder, dict):
            holder = out["lantern"] = {}
        extra = holder.get("extra")
        if not isinstance(extra, dict):
            extra = holder["extra"] = {}
        extra.update(collisions)
    return out


def sorted_deep(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` with its keys sorted at every level of nested objects (lists keep their order)."""
    return {key: sorted_deep(item) if type(item) is dict else item for key, item in sorted(value.items())}


class SchemaFormatter(JsonFormatter):
    """Base of the vendor schemas; alone it is the default schema plus ``field_map``.

    ``field_map`` renames fields of the finished line (``{"message": "msg"}``);
    a name mapped to ``None`` or ``""`` drops the field. For the nested
    schemas (ECS, Datadog) names are the dotted ones (``"http.request.id"``).
    """

    name: ClassVar[str] = "json"
    # Names of the time, level, logger and message fields in this schema, for
    # the fallback line.
    core_names: ClassVar[tuple[str, str, str, str]] = ("ts", "level", "logger", "message")

    def __init__(self, *args: Any, field_map: Mapping[str, str | None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_map = dict(field_map or {})

    def payload(self, record: logging.LogRecord) -> dict[str, Any]:
        fields = self.fields(record)
        extras = {key: value for key, value in fields.items() if key not in KNOWN_FIELDS}
        return self.render(fields, extras, record)

    def render(self, fields: dict[str, Any], extras: dict[str, Any], record: logging.LogRecord) -> dict[str, Any]:
        """The finished line for this schema (the default schema: as it is)."""
        return self.renamed(self.with_release(fields, record))

    def renamed(self, flat: dict[str, Any]) -> dict[str, Any]:
        """``flat`` with ``field_map`` applied; order kept."""
        if not self.field_map:
            return flat
        out: dict[str, Any] = {}
        for key, value in flat.items():
            target = self.field_map.get(key, key)
            if target:
                out.setdefault(target, value)
        return out

    def fallback_payload(self, record: logging.LogRecord, exc: BaseException) -> dict[str, Any]:
        time_key, level_key, logger_key, message_key = self.core_names
        return {
            time_key: rfc3339(record.created),
            level_key: self.level_name(logging.ERROR, "error"),
            logger_key: "django_lantern.logging",
            message_key: "a log record could not be formatted",
            "original_logger": str(record.name)[:200],
            "exc_type": type(exc).__qualname__,
        }

    def level_name(self, levelno: int, default: str) -> str:
        """The level as this schema spells it (the default schema: lower case)."""
        return default
