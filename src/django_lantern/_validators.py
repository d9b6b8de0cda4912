"""Validators for ``LANTERN`` values: ``(key, value, problems) -> parsed value``.

A validator turns the user's value into what the code reads (a tuple, a
compiled pattern, parsed networks) or reports, through ``problems``, a message
that names the key, the value received and the fix. It never raises: every
bad value is collected, so one start-up names them all. When a validator
reports an error, ``conf.build_settings`` uses the parsed default instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard, TypeVar

T = TypeVar("T")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A header name is an RFC 9110 token; anything else could never arrive.
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_METRIC_PREFIX = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# A host name, optionally "*." for any subdomain, or an IP literal ([::1] unbracketed).
_OUTBOUND_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9.:-]{0,252}[a-z0-9])?", re.ASCII)

# What a release, a version or a commit may be, wherever it comes from (LANTERN,
# the environment, the build-info file): it becomes a metric label, a log
# field and the Sentry release, and Sentry refuses slashes, blanks and "..".
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+~=-]{0,127}", re.ASCII)

# The dotted path of a callable, or the callable itself (tracing hooks).
Hook = Callable[..., object] | str | None


class Problems:
    """Collects errors (the process must not start) and ignored values (a system check warns)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.ignored: list[tuple[str, object]] = []

    def add(self, key: str, value: object, expected: str) -> None:
        self.errors.append(f"LANTERN[{key!r}] is {value!r}; it must be {expected}.")

    def ignore(self, key: str, value: object) -> None:
        self.ignored.append((key, value))


Validator = Callable[[str, object, Problems], T]
# ``Problems.add`` alone, for parsers of several keys at once: (key, value, what it must be).
AddError = Callable[[str, object, str], None]


def header_to_meta_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_strings(value: object) -> TypeGuard[list[str] | tuple[str, ...]]:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def boolean(key: str, value: object, problems: Problems) -> bool:
    if not isinstance(value, bool):
        problems.add(key, value, "True or False")
        return False
    return value


def number(*, minimum: float, allow_none: bool = False) -> Validator[float | None]:
    def validate(key: str, value: object, problems: Problems) -> float | None:
        if value is None and allow_none:
            return None
        if not _is_number(value) or value < minimum:
            problems.add(key, value, f"a number >= {minimum}" + (" or None" if allow_none else ""))
            return None
        return float(value)

    return validate


def whole(*, minimum: int, maximum: int | None = None) -> Validator[int]:
    def validate(key: str, value: object, problems: Problems) -> int:
        too_big = maximum is not None and isinstance(value, int) and value > maximum
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum or too_big:
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
            problems.add(key, value, f"a whole number {bounds}")
            return minimum
        return value

    return validate


def one_of(*choices: str | None) -> Validator[Any]:
    """One of ``choices`` (None among them when it is a value of its own)."""

    def validate(key: str, value: object, problems: Problems) -> Any:
        if not (value is None or isinstance(value, str)) or value not in choices:
            problems.add(key, value, "one of " + ", ".join(repr(c) for c in choices))
            return choices[0]
        return value

    return validate


def text(*, allow_none: bool = False) -> Validator[str | None]:
    def validate(key: str, value: object, problems: Problems) -> str | None:
        if value is None and allow_none:
            return None
        if not isinstance(value, str) or not value:
            problems.add(key, value, "a non-empty string" + (" or None" if allow_none else ""))
            return None
        return value

    return validate


def cache_alias(key: str, value: object, problems: Problems) -> str:
    """An alias of ``settings.CACHES``."""
    from django.conf import settings

    known = sorted(getattr(settings, "CACHES", {}) or {})
    if not isinstance(value, str) or value not in known:
        problems.add(key, value, f"an alias of CACHES ({', '.join(repr(a) for a in known) or 'none configured'})")
        return "default"
    return value


_PERMISSION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+")


def permission(key: str, value: object, problems: Problems) -> str | None:
    """A Django permission as ``has_perm`` takes it (``"app_label.codename"``), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _PERMISSION.fullmatch(value):
        problems.add(key, value, 'a permission "app_label.codename" such as "myapp.view_ops", or None for staff')
        return None
    return value


def texts(key: str, value: object, problems: Problems) -> tuple[str, ...]:
    if not _is_strings(value):
        problems.add(key, value, "a list of strings")
        return ()
    return tuple(value)


def text_set(key: str, value: object, problems: Problems) -> frozenset[str]:
    return frozenset(texts(key, value, problems))


def identifiers(key: str, value: object, problems: Problems) -> frozenset[str]:
    """URL keyword argument names (``["token", "uidb64"]``): Python identifiers, as Django requires."""
    if not _is_strings(value) or not all(name.isidentifier() for name in value):
        problems.add(key, value, 'a list of URL parameter names such as ["token", "uidb64"]')
        return frozenset()
    return frozenset(value)


# What ``LANTERN["SQL_COMMENTS"]`` may name, in the order the comment writes them
# (sqlcommenter sorts its keys).
SQL_COMMENT_KEYS = ("callsite", "command", "request_id", "route", "task", "traceparent")


def sql_comment_keys(key: str, value: object, problems: Problems) -> tuple[str, ...]:
    """A list among ``SQL_COMMENT_KEYS``, returned sorted without repeats; an unknown name is refused."""
    if not _is_strings(value):
        problems.add(key, value, f"a list of keys among {', '.join(map(repr, SQL_COMMENT_KEYS))}")
        return ()
    unknown = [name for name in value if name not in SQL_COMMENT_KEYS]
    if unknown:
        names = ", ".join(map(repr, unknown))
        problems.add(key, value, f"a list of keys among {', '.join(map(repr, SQL_COMMENT_KEYS))} (unknown: {names})")
        return ()
    return tuple(name for name in SQL_COMMENT_KEYS if name in value)


def info_label(key: str, value: object, problems: Problems) -> str | None:
    """A label value for ``lantern_build_info``: anything but a string is ignored (W012)."""
    if value is None or isinstance(value, str):
        return value
    problems.ignore(key, value)
    return None


def release_text(value: object) -> str | None:
    """``value`` stripped, if it is a usable release, version or commit; else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _RELEASE.fullmatch(value) else None


def release(key: str, value: object, problems: Problems) -> str | None:
    if value is None:
        return None
    parsed = release_text(value)
    if parsed is None:
        problems.add(
            key, value, 'up to 128 letters, digits and ._:@+~=- starting with a letter or digit, such as "1.4.2"'
        )
    return parsed


def header_name(key: str, value: object, problems: Problems) -> str:
    if not isinstance(value, str) or not HEADER_NAME.fullmatch(value):
        problems.add(key, value, 'an HTTP header name such as "X-Request-Id"')
        return ""
    return value


def header_meta_keys(key: str, value: object, problems: Problems) -> tuple[str, ...]:
    """Header names, as the WSGI ``META`` keys they arrive under."""
    if not _is_strings(value) or not all(HEADER_NAME.fullmatch(v) for v in value):
        problems.add(key, value, 'a list of HTTP header names such as ["X-Correlation-ID"]')
        return ()
    return tuple(header_to_meta_key(name) for name in value)


def networks(*, allow_none: bool = False, strict: bool = True) -> Validator[tuple[Network, ...] | None]:
    """CIDR lists, parsed once. ``strict=False``: an invalid entry is ignored (it
    allows no one) and reported by a system check instead of stopping start-up."""

    def validate(key: str, value: object, problems: Problems) -> tuple[Network, ...] | None:
        if value is None and allow_none:
            return None
        if not _is_strings(value):
            problems.add(key, value, ("None or " if allow_none else "") + 'a list of networks such as ["10.0.0.0/8"]')
            return ()
        parsed, invalid = parse_networks(value)
        for entry in invalid:
            if strict:
                problems.add(key, entry, 'a network in CIDR form such as "10.0.0.0/8"')
            else:
                problems.ignore(key, entry)
        return parsed

    return validate


def regexes(key: str, value: object, problems: Problems) -> tuple[re.Pattern[str], ...]:
    if not _is_strings(value):
        problems.add(key, value, "a list of regular expressions (strings)")
        return ()
    compiled = []
    for pattern in value:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            problems.add(key, pattern, f"a valid regular expression ({exc})")
    return tuple(compiled)


def sample_rates(key: str, value: object, problems: Problems) -> tuple[tuple[re.Pattern[str], float], ...]:
    expected = "a dict of {regex: rate between 0 and 1}"
    if not isinstance(value, Mapping):
        problems.add(key, value, expected)
        return ()
    samples: list[tuple[re.Pattern[str], float]] = []
    for pattern, rate in value.items():
        compiled = regexes(key, [pattern], problems)
        if not _is_number(rate) or not 0 <= rate <= 1:
            problems.add(key, {pattern: rate}, expected)
            continue
        samples.extend((c, float(rate)) for c in compiled)
    return tuple(samples)


def probe_path(key: str, value: object, problems: Problems) -> frozenset[str]:
    """A probe's path, answered with and without the trailing slash; None turns it off."""
    if value is None:
        return frozenset()
    if not isinstance(value, str) or not value.startswith("/") or value.rstrip("/") == "":
        problems.add(key, value, 'an absolute path such as "/healthz", or None to turn it off')
        return frozenset()
    stripped = value.rstrip("/")
    return frozenset({stripped, stripped + "/"})


def aliases(key: str, value: object, problems: Problems) -> str | tuple[str, ...]:
    if value == "__all__":
        return "__all__"
    if _is_strings(value):
        return tuple(value)
    problems.add(key, value, '"__all__" or a list of aliases')
    return ()


def buckets(key: str, value: object, problems: Problems) -> tuple[float, ...]:
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(_is_number(b) and b > 0 for b in value)
        or list(value) != sorted(value)
    ):
        problems.add(key, value, "a sorted, non-empty list of positive numbers (seconds)")
        return ()
    return tuple(float(b) for b in value)


def metric_prefix(key: str, value: object, problems: Problems) -> str:
    if not isinstance(value, str) or (value and not _METRIC_PREFIX.fullmatch(value)):
        problems.add(key, value, 'a Prometheus name prefix such as "myapp", or ""')
        return ""
    return value


def port(key: str, value: object, problems: Problems) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        problems.add(key, value, "None or a TCP port number (1-65535)")
        return None
    return value


def hook(key: str, value: object, problems: Problems) -> Hook:
    if value is None or (isinstance(value, str) and value):
        return value
    if callable(value):
        return value
    problems.add(key, value, "None, a callable, or the dotted path of one")
    return None


def outbound_hosts(key: str, value: object, problems: Problems) -> tuple[str, ...] | None:
    """Host names, normalised (lower case, no trailing dot); None means every host."""
    if value is None:
        return None
    if not _is_strings(value):
        problems.add(key, value, 'None or a list of host names such as ["api.example.com", "*.internal"]')
        return ()
    hosts = []
    for entry in value:
        host = entry.strip().lower().rstrip(".")
        if not _OUTBOUND_HOST.fullmatch(host):
            problems.add(key, entry, 'a host name such as "api.example.com" or "*.internal" (ASCII; IDNA as xn--)')
            continue
        hosts.append(host)
    return tuple(hosts)


def parse_networks(cidrs: Iterable[str]) -> tuple[tuple[Network, ...], list[str]]:
    """The valid networks and the entries that are not (reported by system checks)."""
    networks: list[Network] = []
    invalid: list[str] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except (TypeError, ValueError):
            invalid.append(cidr)
    return tuple(networks), invalid


# -- the readiness probe options (one ``GROUPS`` entry in ``conf``) ------------
PROBE_DEFAULTS: dict[str, Any] = {
    # Check names (keys of the /readyz "checks") whose failure is reported but never turns the probe 503.
    "READINESS_NON_CRITICAL": [],
    # {check name: seconds}: a timeout per check, over the check's own default.
    "READINESS_CHECK_TIMEOUTS": {},
    # The "disk" check: the path whose file system it measures (None: MEDIA_ROOT, else the working directory)
    "READINESS_DISK_PATH": None,
    # ... and the free space it needs: a number of bytes, or a percentage of the file system as "5%".
    "READINESS_DISK_MIN_FREE": "5%",
}

_PERCENT = re.compile(r"(\d{1,2}(?:\.\d+)?|100)%")


@dataclass(frozen=True)
class ProbeOptions:
    non_critical: frozenset[str] = frozenset()
    check_timeouts: Mapping[str, float] = field(default_factory=dict)
    disk_path: str | None = None
    # Exactly one of these two is set.
    disk_min_free_bytes: int | None = None
    disk_min_free_percent: float | None = 5.0


def parse_probe_options(raw: Mapping[str, Any], add_error: AddError) -> ProbeOptions:
    non_critical = raw["READINESS_NON_CRITICAL"]
    if not isinstance(non_critical, (list, tuple)) or not all(isinstance(v, str) for v in non_critical):
        add_error("READINESS_NON_CRITICAL", non_critical, 'a list of check names such as ["cache:default"]')
        non_critical = ()

    timeouts: dict[str, float] = {}
    configured = raw["READINESS_CHECK_TIMEOUTS"]
    if not isinstance(configured, Mapping):
        add_error(
            "READINESS_CHECK_TIMEOUTS", configured, 'a dict of {check name: seconds} such as {"migrations:default": 3}'
        )
    else:
        for name, seconds in configured.items():
            if (
                not isinstance(name, str)
                or isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or not seconds > 0
            ):
                add_error("READINESS_CHECK_TIMEOUTS", {name: seconds}, "a dict of {check name: seconds > 0}")
                continue
            timeouts[name] = float(seconds)

    disk_path = raw["READINESS_DISK_PATH"]
    if disk_path is not None and (not isinstance(disk_path, str) or not disk_path):
        add_error("READINESS_DISK_PATH", disk_path, "None or the path of a directory on the file system to watch")
        disk_path = None

    min_free = raw["READINESS_DISK_MIN_FREE"]
    min_bytes: int | None = None
    percent: float | None = None
    if isinstance(min_free, int) and not isinstance(min_free, bool) and min_free >= 0:
        min_bytes = min_free
    elif isinstance(min_free, str) and _PERCENT.fullmatch(min_free):
        percent = float(min_free[:-1])
    else:
        add_error("READINESS_DISK_MIN_FREE", min_free, 'a number of bytes (int >= 0) or a percentage such as "5%"')
        percent = 5.0
    return ProbeOptions(frozenset(non_critical), timeouts, disk_path, min_bytes, percent)
