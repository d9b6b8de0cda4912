"""django-lantern settings: one ``LANTERN`` dict, read lazily, validated once.

Every key, its type and its default is listed in ``DEFAULTS`` below and in
``docs/configuration.md``. Settings are never read at import time: the first
call to :func:`get_settings` reads ``settings.LANTERN``, validates it and caches
a :class:`LanternSettings`; Django's ``setting_changed`` signal clears the cache
so ``override_settings`` works in tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from django_lantern.networks import Network, parse_networks

__all__ = ["LanternSettings", "get_settings"]

Networks = tuple[Network, ...]

DEFAULTS: dict[str, Any] = {
    # Request ids
    "REQUEST_ID_HEADER": "X-Request-Id",
    "TRUST_REQUEST_ID_HEADER": True,
    "EXPOSE_REQUEST_ID_HEADER": True,
    "REQUEST_ID_FROM_TRACE": False,
    # None: an incoming id is accepted from any peer; a list of CIDRs: only from
    # those peers (your proxies), so a client cannot pick an id of its own.
    "REQUEST_ID_TRUSTED_NETWORKS": None,
    # Proxies whose X-Forwarded-For / Forwarded is believed for the client's
    # address (CIDRs). Empty: those headers are ignored and REMOTE_ADDR is the client.
    "TRUSTED_PROXIES": [],
    # Headers read, in order, when REQUEST_ID_HEADER is absent (migrating from
    # django-guid: ["X-Correlation-ID"]); same validation and trust rules.
    "REQUEST_ID_FALLBACK_HEADERS": [],
    # Access log
    "ACCESS_LOGGER": "access",
    "ACCESS_LOG_SKIP_PATHS": [],
    "ACCESS_LOG_SAMPLE_PATHS": {},
    "SLOW_REQUEST_MS": 1000.0,
    "USER_ID_ATTRIBUTE": "pk",
    # Probes and the metrics endpoint, answered by the middleware itself
    "HEALTHZ_PATH": "/healthz",
    "READYZ_PATH": "/readyz",
    "METRICS_PATH": "/metrics",
    "READINESS_TIMEOUT": 0.5,
    "READINESS_DATABASES": "__all__",
    "READINESS_CACHES": "__all__",
    "READINESS_CHECKS": [],
    "SHUTDOWN_DRAIN_SECONDS": 0.0,
    # Probes and /metrics start no span and no Sentry transaction unless this is on.
    "TRACE_PROBES": False,
    # Metrics
    "METRICS_ENABLED": True,
    "METRICS_NAMESPACE": "",
    "METRICS_LATENCY_BUCKETS": [
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    ],
    "METRICS_EXCLUDE_PROBES_FROM_LATENCY": True,
    "METRICS_MAX_LABEL_SETS": 1000,
    "METRICS_BEARER_TOKEN": None,
    # lantern_build_info labels; None falls back to SENTRY_RELEASE / SENTRY_ENVIRONMENT.
    "METRICS_RELEASE": None,
    "METRICS_ENVIRONMENT": None,
    "METRICS_ALLOWED_NETWORKS": [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ],
    # Tracing (django_lantern.tracing): hooks are callables or dotted paths to them,
    # request_hook(span, request) and response_hook(span, request, response).
    "TRACING_REQUEST_HOOK": None,
    "TRACING_RESPONSE_HOOK": None,
    "TRACING_QUERY_SPANS": False,
    "TRACING_QUERY_MAX_LENGTH": 2048,
    # Scrubbing
    "SCRUBBER_CLASS": "django_lantern.scrubbing.Scrubber",
    "SCRUB_EXTRA_KEYS": [],
    "SCRUB_EXTRA_PATTERNS": [],
    "LOG_FIELD_MAX_LENGTH": 4096,
    # Management commands: one request id per run (docs/jobs-celery.md)
    "COMMAND_REQUEST_ID": True,
    "COMMAND_REQUEST_ID_SKIP": ["runserver", "testserver"],
    # Celery (django_lantern.celery.instrument)
    "TASK_LOGGER": "lantern.task",
    "TASK_METRICS_PORT": None,
    "TASK_METRICS_ADDRESS": "0.0.0.0",
    # Cloud Logging's trace field needs the project; GOOGLE_CLOUD_PROJECT wins.
    "GCP_PROJECT": None,
    # Outbound calls (django_lantern.outbound): None sends the request id and
    # traceparent to every host; a list of host names ("api.example.com",
    # "*.internal") sends them only there.
    "OUTBOUND_HOSTS": None,
}

# A header name is an RFC 9110 token; anything else could never arrive.
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")


def _header_to_meta_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


def _probe_paths(base: str | None) -> frozenset[str]:
    """``/healthz`` is answered with and without the trailing slash."""
    if not base:
        return frozenset()
    stripped = base.rstrip("/")
    return frozenset({stripped, stripped + "/"})


@dataclass(frozen=True)
class LanternSettings:
    """Validated settings plus the values derived from them once, at start-up."""

    raw: Mapping[str, Any]
    request_id_header: str
    request_id_meta_key: str
    trust_request_id_header: bool
    expose_request_id_header: bool
    request_id_from_trace: bool
    request_id_trusted_networks: tuple[Network, ...] | None
    trusted_proxies: tuple[Network, ...]
    request_id_fallback_meta_keys: tuple[str, ...]
    access_logger: str
    access_log_skip: tuple[re.Pattern[str], ...]
    access_log_sample: tuple[tuple[re.Pattern[str], float], ...]
    slow_request_ms: float | None
    user_id_attribute: str
    healthz_paths: frozenset[str]
    readyz_paths: frozenset[str]
    metrics_paths: frozenset[str]
    readiness_timeout: float
    readiness_databases: str | tuple[str, ...]
    readiness_caches: str | tuple[str, ...]
    readiness_checks: tuple[str, ...]
    shutdown_drain_seconds: float
    trace_probes: bool
    metrics_enabled: bool
    metrics_namespace: str
    metrics_latency_buckets: tuple[float, ...]
    metrics_exclude_probes_from_latency: bool
    metrics_max_label_sets: int
    metrics_bearer_token: str | None
    metrics_allowed_networks: tuple[str, ...]
    scrubber_class: str
    scrub_extra_keys: tuple[str, ...]
    scrub_extra_patterns: tuple[str, ...]
    log_field_max_length: int
    command_request_id: bool = True
    command_request_id_skip: frozenset[str] = frozenset()
    task_logger: str = "lantern.task"
    task_metrics_port: int | None = None
    task_metrics_address: str = "0.0.0.0"
    outbound_hosts: tuple[str, ...] | None = None
    probe_paths: frozenset[str] = field(default=frozenset())
    tracing_request_hook: Any = None
    tracing_response_hook: Any = None
    tracing_query_spans: bool = False
    tracing_query_max_length: int = 2048


class _Errors:
    """Collects validation messages that name the key, the value and the fix."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, key: str, value: object, expected: str) -> None:
        self.messages.append(f"LANTERN[{key!r}] is {value!r}; it must be {expected}.")


def _compile_patterns(key: str, value: object, errors: _Errors) -> tuple[re.Pattern[str], ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        errors.add(key, value, "a list of regular expressions (strings)")
        return ()
    compiled = []
    for pattern in value:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            errors.add(key, pattern, f"a valid regular expression ({exc})")
    return tuple(compiled)


def _aliases(key: str, value: object, errors: _Errors) -> str | tuple[str, ...]:
    if value == "__all__":
        return "__all__"
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    errors.add(key, value, '"__all__" or a list of aliases')
    return ()


def _path(key: str, value: object, errors: _Errors) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, str) or not value.startswith("/") or value.rstrip("/") == "":
        errors.add(key, value, 'an absolute path such as "/healthz", or None to turn it off')
        return frozenset()
    return _probe_paths(value)


def _trusted_networks(
    value: object, errors: _Errors, key: str = "REQUEST_ID_TRUSTED_NETWORKS"
) -> tuple[Network, ...] | None:
    if value is None and key == "REQUEST_ID_TRUSTED_NETWORKS":
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        errors.add(
            key,
            value,
            ("None or " if key == "REQUEST_ID_TRUSTED_NETWORKS" else "") + 'a list of networks such as ["10.0.0.0/8"]',
        )
        return ()
    networks, invalid = parse_networks(value)
    for entry in invalid:
        errors.add(key, entry, 'a network in CIDR form such as "10.0.0.0/8"')
    return networks


def _fallback_meta_keys(value: object, errors: _Errors) -> tuple[str, ...]:
    key = "REQUEST_ID_FALLBACK_HEADERS"
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and _HEADER_NAME.fullmatch(v) for v in value):
        errors.add(key, value, 'a list of HTTP header names such as ["X-Correlation-ID"]')
        return ()
    return tuple(_header_to_meta_key(name) for name in value)


# A host name, optionally "*." for any subdomain, or an IP literal ([::1] unbracketed).
_OUTBOUND_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9.:-]{0,252}[a-z0-9])?", re.ASCII)


def _outbound_hosts(value: object, errors: _Errors) -> tuple[str, ...] | None:
    key = "OUTBOUND_HOSTS"
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        errors.add(key, value, 'None or a list of host names such as ["api.example.com", "*.internal"]')
        return ()
    hosts = []
    for entry in value:
        host = entry.strip().lower().rstrip(".")
        if not _OUTBOUND_HOST.fullmatch(host):
            errors.add(key, entry, 'a host name such as "api.example.com" or "*.internal" (ASCII; IDNA as xn--)')
            continue
        hosts.append(host)
    return tuple(hosts)


def build_settings(user: Mapping[str, Any] | None) -> tuple[LanternSettings, list[str]]:
    """Merge ``user`` over the defaults; return the settings and any errors."""
    errors = _Errors()
    if user is None:
        user = {}
    if not isinstance(user, Mapping):
        errors.messages.append(f"LANTERN is {user!r}; it must be a dict.")
        user = {}
    unknown = sorted(set(user) - set(DEFAULTS))
    for key in unknown:
        errors.messages.append(
            f"LANTERN[{key!r}] is not a django-lantern setting; the known keys are listed in docs/configuration.md."
        )
    raw = {**DEFAULTS, **{k: v for k, v in user.items() if k in DEFAULTS}}

    def boolean(key: str) -> bool:
        value = raw[key]
        if not isinstance(value, bool):
            errors.add(key, value, "True or False")
            return bool(DEFAULTS[key])
        return value

    def number(key: str, *, minimum: float, allow_none: bool = False) -> float | None:
        value = raw[key]
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            none = " or None" if allow_none else ""
            errors.add(key, value, f"a number >= {minimum}{none}")
            return float(DEFAULTS[key]) if DEFAULTS[key] is not None else None
        return float(value)

    def string(key: str, *, allow_none: bool = False) -> str | None:
        value = raw[key]
        if value is None and allow_none:
            return None
        if not isinstance(value, str) or not value:
            errors.add(key, value, "a non-empty string" + (" or None" if allow_none else ""))
            return DEFAULTS[key]  # type: ignore[no-any-return]
        return value

    def strings(key: str) -> tuple[str, ...]:
        value = raw[key]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            errors.add(key, value, "a list of strings")
            return tuple(DEFAULTS[key])
        return tuple(value)

    header = raw["REQUEST_ID_HEADER"]
    if not isinstance(header, str) or not _HEADER_NAME.fullmatch(header):
        errors.add("REQUEST_ID_HEADER", header, 'an HTTP header name such as "X-Request-Id"')
        header = DEFAULTS["REQUEST_ID_HEADER"]

    samples: list[tuple[re.Pattern[str], float]] = []
    sample_cfg = raw["ACCESS_LOG_SAMPLE_PATHS"]
    if not isinstance(sample_cfg, Mapping):
        errors.add("ACCESS_LOG_SAMPLE_PATHS", sample_cfg, "a dict of {regex: rate between 0 and 1}")
    else:
        for pattern, rate in sample_cfg.items():
            compiled = _compile_patterns("ACCESS_LOG_SAMPLE_PATHS", [pattern], errors)
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                errors.add("ACCESS_LOG_SAMPLE_PATHS", {pattern: rate}, "a dict of {regex: rate between 0 and 1}")
                continue
            samples.extend((c, float(rate)) for c in compiled)

    buckets_value = raw["METRICS_LATENCY_BUCKETS"]
    if (
        not isinstance(buckets_value, (list, tuple))
        or not buckets_value
        or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in buckets_value)
        or list(buckets_value) != sorted(buckets_value)
    ):
        errors.add("METRICS_LATENCY_BUCKETS", buckets_value, "a sorted, non-empty list of positive numbers (seconds)")
        buckets_value = DEFAULTS["METRICS_LATENCY_BUCKETS"]

    max_label_sets = raw["METRICS_MAX_LABEL_SETS"]
    if isinstance(max_label_sets, bool) or not isinstance(max_label_sets, int) or max_label_sets < 1:
        errors.add("METRICS_MAX_LABEL_SETS", max_label_sets, "a whole number >= 1")
        max_label_sets = DEFAULTS["METRICS_MAX_LABEL_SETS"]

    string("GCP_PROJECT", allow_none=True)  # validated here, read by the gcp log formatter
    field_max = raw["LOG_FIELD_MAX_LENGTH"]
    if isinstance(field_max, bool) or not isinstance(field_max, int) or field_max < 64:
        errors.add("LOG_FIELD_MAX_LENGTH", field_max, "a whole number >= 64")
        field_max = DEFAULTS["LOG_FIELD_MAX_LENGTH"]

    hooks = {}
    for key in ("TRACING_REQUEST_HOOK", "TRACING_RESPONSE_HOOK"):
        hooks[key] = raw[key]
        if hooks[key] is not None and not callable(hooks[key]) and not (isinstance(hooks[key], str) and hooks[key]):
            errors.add(key, hooks[key], "None, a callable, or the dotted path of one")
            hooks[key] = None
    query_max = raw["TRACING_QUERY_MAX_LENGTH"]
    if isinstance(query_max, bool) or not isinstance(query_max, int) or query_max < 64:
        errors.add("TRACING_QUERY_MAX_LENGTH", query_max, "a whole number >= 64")
        query_max = DEFAULTS["TRACING_QUERY_MAX_LENGTH"]

    namespace = raw["METRICS_NAMESPACE"]
    if not isinstance(namespace, str) or (namespace and not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", namespace)):
        errors.add("METRICS_NAMESPACE", namespace, 'a Prometheus name prefix such as "myapp", or ""')
        namespace = ""

    task_port = raw["TASK_METRICS_PORT"]
    if task_port is not None and (
        isinstance(task_port, bool) or not isinstance(task_port, int) or not 0 < task_port < 65536
    ):
        errors.add("TASK_METRICS_PORT", task_port, "None or a TCP port number (1-65535)")
        task_port = None

    timeout = number("READINESS_TIMEOUT", minimum=0.001)
    healthz = _path("HEALTHZ_PATH", raw["HEALTHZ_PATH"], errors)
    readyz = _path("READYZ_PATH", raw["READYZ_PATH"], errors)
    metrics = _path("METRICS_PATH", raw["METRICS_PATH"], errors)
    built = LanternSettings(
        raw=raw,
        request_id_header=header,
        request_id_meta_key=_header_to_meta_key(header),
        trust_request_id_header=boolean("TRUST_REQUEST_ID_HEADER"),
        expose_request_id_header=boolean("EXPOSE_REQUEST_ID_HEADER"),
        request_id_from_trace=boolean("REQUEST_ID_FROM_TRACE"),
        request_id_trusted_networks=_trusted_networks(raw["REQUEST_ID_TRUSTED_NETWORKS"], errors),
        trusted_proxies=_trusted_networks(raw["TRUSTED_PROXIES"], errors, "TRUSTED_PROXIES") or (),
        request_id_fallback_meta_keys=_fallback_meta_keys(raw["REQUEST_ID_FALLBACK_HEADERS"], errors),
        access_logger=string("ACCESS_LOGGER") or "access",
        access_log_skip=_compile_patterns("ACCESS_LOG_SKIP_PATHS", raw["ACCESS_LOG_SKIP_PATHS"], errors),
        access_log_sample=tuple(samples),
        slow_request_ms=number("SLOW_REQUEST_MS", minimum=0, allow_none=True),
        user_id_attribute=string("USER_ID_ATTRIBUTE") or "pk",
        healthz_paths=healthz,
        readyz_paths=readyz,
        metrics_paths=metrics,
        readiness_timeout=timeout if timeout is not None else 0.5,
        readiness_databases=_aliases("READINESS_DATABASES", raw["READINESS_DATABASES"], errors),
        readiness_caches=_aliases("READINESS_CACHES", raw["READINESS_CACHES"], errors),
        readiness_checks=strings("READINESS_CHECKS"),
        shutdown_drain_seconds=number("SHUTDOWN_DRAIN_SECONDS", minimum=0) or 0.0,
        trace_probes=boolean("TRACE_PROBES"),
        metrics_enabled=boolean("METRICS_ENABLED"),
        metrics_namespace=namespace,
        metrics_latency_buckets=tuple(float(b) for b in buckets_value),
        metrics_exclude_probes_from_latency=boolean("METRICS_EXCLUDE_PROBES_FROM_LATENCY"),
        metrics_max_label_sets=max_label_sets,
        metrics_bearer_token=string("METRICS_BEARER_TOKEN", allow_none=True),
        metrics_allowed_networks=strings("METRICS_ALLOWED_NETWORKS"),
        scrubber_class=string("SCRUBBER_CLASS") or DEFAULTS["SCRUBBER_CLASS"],
        scrub_extra_keys=strings("SCRUB_EXTRA_KEYS"),
        scrub_extra_patterns=strings("SCRUB_EXTRA_PATTERNS"),
        log_field_max_length=field_max,
        command_request_id=boolean("COMMAND_REQUEST_ID"),
        command_request_id_skip=frozenset(strings("COMMAND_REQUEST_ID_SKIP")),
        task_logger=string("TASK_LOGGER") or "lantern.task",
        task_metrics_port=task_port,
        task_metrics_address=string("TASK_METRICS_ADDRESS") or "0.0.0.0",
        outbound_hosts=_outbound_hosts(raw["OUTBOUND_HOSTS"], errors),
        probe_paths=healthz | readyz | metrics,
        tracing_request_hook=hooks["TRACING_REQUEST_HOOK"],
        tracing_response_hook=hooks["TRACING_RESPONSE_HOOK"],
        tracing_query_spans=boolean("TRACING_QUERY_SPANS"),
        tracing_query_max_length=query_max,
    )
    if (
        built.healthz_paths & built.readyz_paths
        or built.healthz_paths & built.metrics_paths
        or built.readyz_paths & built.metrics_paths
    ):
        errors.messages.append(
            "LANTERN['HEALTHZ_PATH'], ['READYZ_PATH'] and ['METRICS_PATH'] must differ; "
            f"got {raw['HEALTHZ_PATH']!r}, {raw['READYZ_PATH']!r}, {raw['METRICS_PATH']!r}."
        )
    return built, errors.messages


_cached: LanternSettings | None = None
_cached_errors: list[str] = []


def get_settings() -> LanternSettings:
    """The validated settings; raises ``ImproperlyConfigured`` on a bad value.

    Cached until a ``setting_changed`` signal for ``LANTERN`` clears it.
    """
    global _cached, _cached_errors
    current = _cached
    if current is not None:
        return current
    built, errors = build_settings(getattr(django_settings, "LANTERN", None))
    _cached_errors = errors
    if errors:
        raise ImproperlyConfigured("Invalid django-lantern settings: " + " ".join(errors))
    _cached = built
    return built


def settings_errors() -> list[str]:
    """Validation messages for the current ``LANTERN`` value (used by system checks)."""
    return build_settings(getattr(django_settings, "LANTERN", None))[1]


def clear_cache() -> None:
    global _cached
    _cached = None


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {"LANTERN", "DEBUG", "DATABASES", "CACHES"}:
        clear_cache()
        from django_lantern import _reset_hooks

        for hook in _reset_hooks:
            hook()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_lantern.conf")
