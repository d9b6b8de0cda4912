"""Per-check and partial readiness, kube-apiserver style, and non-critical checks.

- ``/readyz/<check>`` runs one check (its name is a key of the body's
  ``checks``), matched exactly against the registered names: anything else is
  a 404 whose body lists the real names and never repeats the requested one;
- ``/readyz?exclude=<check>`` (repeatable) leaves checks out. A name that
  matches no check is ignored, as kube-apiserver does, so that a probe keeps
  working after a check is renamed or removed; ``?verbose`` reports how many
  such names there were;
- ``?verbose`` answers one plain-text line per check, for a person with curl
  (only the verdict line for a caller the ``/metrics`` rule does not admit);
- a non-critical check is run and reported (``"critical": false``) but its
  failure never makes the aggregate ``/readyz`` 503. Asked for by name, a
  check reports its own state, critical or not.

The query string is read by this module alone, bounded in length and fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.core.exceptions import ImproperlyConfigured

from django_lantern._validators import ProbeOptions
from django_lantern.health._base import ReadinessCheck

# Probe URLs are written by operators; anything longer is not one.
MAX_QUERY_LENGTH = 2048
MAX_QUERY_FIELDS = 64
MAX_CHECK_NAME_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def apply_probe_options(checks: Sequence[ReadinessCheck], options: ProbeOptions) -> None:
    """Mark non-critical checks and set per-check timeouts; every name must be a registered check."""
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ImproperlyConfigured(
            f"Two readiness checks are named {duplicates!r}; list each check once in LANTERN['READINESS_CHECKS']."
        )
    for key, wanted in (
        ("READINESS_NON_CRITICAL", options.non_critical),
        ("READINESS_CHECK_TIMEOUTS", options.check_timeouts),
    ):
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ImproperlyConfigured(
                f"LANTERN[{key!r}] names {unknown!r}, which are not readiness checks; the checks are {sorted(names)!r}."
            )
    for check in checks:
        if check.name in options.non_critical:
            check.critical = False
        if check.name in options.check_timeouts:
            check.timeout = options.check_timeouts[check.name]


@dataclass(frozen=True)
class ProbeQuery:
    """What a ``/readyz`` request asks for; ``error`` set when it cannot be answered (400)."""

    exclude: frozenset[str] = frozenset()
    verbose: bool = False
    error: str | None = None


def parse_query(query_string: str) -> ProbeQuery:
    """``exclude`` (repeatable) and ``verbose``; other parameters are ignored."""
    if not query_string:
        return ProbeQuery()
    if len(query_string) > MAX_QUERY_LENGTH:
        return ProbeQuery(error="query string too long")
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return ProbeQuery(error="too many query parameters")
    exclude = frozenset(value for key, value in pairs if key == "exclude" and value)
    verbose = any(key == "verbose" and value.lower() not in ("0", "false") for key, value in pairs)
    return ProbeQuery(exclude, verbose)


def check_from_path(path: str, prefix: str) -> str | None:
    """The check named by ``/readyz/<check>`` (one trailing slash allowed), or None for the aggregate."""
    if not prefix or len(path) <= len(prefix) or not path.startswith(prefix):
        return None  # "/readyz/" itself is the aggregate
    name = path[len(prefix) :]
    return name[:-1] if name.endswith("/") else name


def is_known(name: str, registered: Sequence[str]) -> bool:
    return 0 < len(name) <= MAX_CHECK_NAME_LENGTH and name in registered


def verbose_text(body: dict[str, Any], status: int, ignored_excludes: int) -> str:
    """One ``[+]``/``[-]`` line per check, then the verdict: for a person reading curl output."""
    lines = []
    for name, entry in body["checks"].items():
        # A check's own CheckFailed text could hold a line break: one check, one line.
        error = _CONTROL.sub(" ", entry.get("error", "unavailable"))
        state = "ok" if entry["ok"] else f"failed: {error}"
        note = " (non-critical)" if entry.get("critical") is False else ""
        lines.append(f"[{'+' if entry['ok'] else '-'}]{name} {state} ({entry['ms']} ms){note}")
    if body.get("draining"):
        lines.append("[-]draining: shutting down")
    if ignored_excludes:
        lines.append(f"warn: {ignored_excludes} excluded name(s) match no check and were ignored")
    lines.append(verdict_line(status))
    return "\n".join(lines) + "\n"


def verdict_line(status: int) -> str:
    """The verdict alone: ``?verbose``'s last line, and all of it for a caller who may not see the checks."""
    return "readyz check passed" if status == 200 else "readyz check failed"
