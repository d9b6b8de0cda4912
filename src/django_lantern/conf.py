"""django-lantern settings: one ``LANTERN`` dict, read lazily, validated once.

Every key, its default and its validator is one row of
``django_lantern.conf.KEYS`` (and a line of ``docs/configuration.md``).
Settings are never read at import time: the first call to :func:`get_settings`
reads ``settings.LANTERN``, validates every key and caches one frozen
:class:`LanternSettings`; the rest of the package reads only that object. A
bad value stops the process at start-up (``LanternConfig.ready``) with a
message naming the key, the value and the fix. ``override_settings`` clears
the cache (``django_lantern._caching``).

Adding a setting
----------------
1. One row in ``KEYS`` below: ``"MY_KEY": Key(default, validator)``, the
   validator taken from ``_validators`` (``v.boolean``, ``v.number(minimum=0)``,
   ``v.text(allow_none=True)``, ``v.texts``, ``v.networks()``, ...) or written
   there as ``(key, value, problems) -> parsed`` calling
   ``problems.add(key, value, "what it must be")`` on a bad value.
2. One field in :class:`LanternSettings`, named as the key in lower case
   (``my_key``), typed as the validator's result. A field named otherwise is the
   row's third argument: ``Key(default, validator, "my_field")``.
3. A line in ``docs/configuration.md``.

Several keys parsed together into one attribute (a feature's own options
object) are a ``Group(defaults, parse, "field")`` in ``GROUPS``, with
``parse(values, add_error)`` kept beside the feature. A value computed from
keys that are parsed separately goes in :func:`_derive`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from django_lantern import _validators as v
from django_lantern._caching import settings_cache
from django_lantern._validators import (
    PROBE_DEFAULTS,
    Hook,
    Network,
    ProbeOptions,
    Problems,
    header_to_meta_key,
    parse_probe_options,
)

__all__ = ["LanternSettings", "get_settings"]

# The documentation site (mkdocs.yml's ``site_url``): what a message prints is
# read where the package is installed, far from this repository's docs/ folder.
DOCS_URL = "https://django-lantern.github.io/django-lantern/"


def docs_url(page: str, anchor: str = "") -> str:
    """The address of ``docs/<page>.md`` on the site (MkDocs directory URLs), ``#anchor`` when given."""
    return f"{DOCS_URL}{page}/" + (f"#{anchor}" if anchor else "")


# The fix for any bad LANTERN value: the hint of lantern.E002 and the end of the start-up refusal.
SETTINGS_HINT = f"Every key, its type and its default: {docs_url('configuration')}"
NOT_INSTALLED = (
    "django_lantern.middleware.LanternMiddleware is in MIDDLEWARE but django_lantern is not in "
    'INSTALLED_APPS, so its system checks, signals and template tags are missing. Add "django_lantern" '
    "to INSTALLED_APPS."
)


@dataclass(frozen=True)
class Key:
    default: object
    validate: v.Validator[object]
    field: str = ""


KEYS: dict[str, Key] = {
    # Request ids
    "REQUEST_ID_HEADER": Key("X-Request-Id", v.header_name),
    "TRUST_REQUEST_ID_HEADER": Key(True, v.boolean),
    "EXPOSE_REQUEST_ID_HEADER": Key(True, v.boolean),
    "REQUEST_ID_FROM_TRACE": Key(False, v.boolean),
    # None: an incoming id is accepted from any peer; a list of CIDRs: only from
    # those peers (your proxies), so a client cannot pick an id of its own.
    "REQUEST_ID_TRUSTED_NETWORKS": Key(None, v.networks(allow_none=True)),
    # Proxies whose X-Forwarded-For / Forwarded is believed for the client's
    # address (CIDRs). Empty: those headers are ignored and REMOTE_ADDR is the client.
    "TRUSTED_PROXIES": Key([], v.networks()),
    # Headers read, in order, when REQUEST_ID_HEADER is absent (migrating from
    # django-guid: ["X-Correlation-ID"]); same validation and trust rules.
    "REQUEST_ID_FALLBACK_HEADERS": Key([], v.header_meta_keys, "request_id_fallback_meta_keys"),
    # Access log
    "ACCESS_LOGGER": Key("access", v.text()),
    "ACCESS_LOG_SKIP_PATHS": Key([], v.regexes, "access_log_skip"),
    "ACCESS_LOG_SAMPLE_PATHS": Key({}, v.sample_rates, "access_log_sample"),
    "SLOW_REQUEST_MS": Key(1000.0, v.number(minimum=0, allow_none=True)),
    # A /healthz or /readyz answered 2xx/3xx faster than this is a healthy probe, whose access
    # line build_logging_config()'s handler leaves out; 0: none is; None: no probe is too slow.
    "SLOW_PROBE_MS": Key(250.0, v.number(minimum=0, allow_none=True)),
    "USER_ID_ATTRIBUTE": Key("pk", v.text()),
    "LOAD_USER": Key(False, v.boolean),
    # Probes and the metrics endpoint, answered by the middleware itself
    "HEALTHZ_PATH": Key("/healthz", v.probe_path, "healthz_paths"),
    "READYZ_PATH": Key("/readyz", v.probe_path, "readyz_paths"),
    "METRICS_PATH": Key("/metrics", v.probe_path, "metrics_paths"),
    # What is running, as JSON; protected as /metrics is (docs/status.md).
    "STATUS_PATH": Key("/statusz", v.probe_path, "status_paths"),
    # Every thread's stack, tagged with its request; protected as /metrics is (docs/status.md).
    "THREADS_PATH": Key("/threadz", v.probe_path, "threads_paths"),
    # A WARNING with the stack, once, for each request still running after this many ms; None: no watcher.
    "STUCK_REQUEST_MS": Key(None, v.number(minimum=1, allow_none=True)),
    "READINESS_TIMEOUT": Key(0.5, v.number(minimum=0.001)),
    # Probes within this many seconds share one verdict per check (never served older).
    "READINESS_CACHE_SECONDS": Key(1.0, v.number(minimum=0)),
    "READINESS_DATABASES": Key("__all__", v.aliases),
    "READINESS_CACHES": Key("__all__", v.aliases),
    "READINESS_CHECKS": Key([], v.texts),
    "SHUTDOWN_DRAIN_SECONDS": Key(0.0, v.number(minimum=0)),
    # Probes and /metrics start no span and no Sentry transaction unless this is on.
    "TRACE_PROBES": Key(False, v.boolean),
    # Metrics
    "METRICS_ENABLED": Key(True, v.boolean),
    "METRICS_NAMESPACE": Key("", v.metric_prefix),
    "METRICS_LATENCY_BUCKETS": Key([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0], v.buckets),
    "METRICS_EXCLUDE_PROBES_FROM_LATENCY": Key(True, v.boolean),
    "METRICS_MAX_LABEL_SETS": Key(1000, v.whole(minimum=1)),
    # "otel" or "both": the OpenTelemetry HTTP server histogram too (docs/metrics.md).
    "METRICS_NAMING": Key("lantern", v.one_of("lantern", "otel", "both")),
    "METRICS_BEARER_TOKEN": Key(None, v.text(allow_none=True)),
    # lantern_build_info labels; None falls back to the SENTRY_RELEASE /
    # SENTRY_ENVIRONMENT variables. Not a string: ignored, and lantern.W012 says so.
    "METRICS_RELEASE": Key(None, v.info_label),
    "METRICS_ENVIRONMENT": Key(None, v.info_label),
    # An entry that is not a network allows no one; lantern.E010 names it.
    "METRICS_ALLOWED_NETWORKS": Key(
        ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
        v.networks(strict=False),
    ),
    # What is running (docs/status.md): None falls back to METRICS_RELEASE, the
    # environment and the build-info file, resolved once by django_lantern._release.
    "RELEASE": Key(None, v.release),
    # Written at image build time by ``python -m django_lantern.buildinfo``; relative to the working directory.
    "BUILD_INFO_FILE": Key("build-info.json", v.text(allow_none=True)),
    # Tracing (django_lantern.tracing): hooks are callables or dotted paths to them,
    # request_hook(span, request) and response_hook(span, request, response).
    "TRACING_REQUEST_HOOK": Key(None, v.hook),
    "TRACING_RESPONSE_HOOK": Key(None, v.hook),
    "TRACING_QUERY_SPANS": Key(False, v.boolean),
    "TRACING_QUERY_MAX_LENGTH": Key(2048, v.whole(minimum=64)),
    # sqlcommenter comments on every statement (docs/sql-comments.md); empty: no wrapper at all.
    "SQL_COMMENTS": Key([], v.sql_comment_keys),
    # Query insights on the lantern.db logger (metrics/_insights.py): "log", "raise" (tests) or None (off).
    "N_PLUS_ONE": Key("log", v.one_of("log", "raise", None)),
    "N_PLUS_ONE_THRESHOLD": Key(5, v.whole(minimum=2)),
    "SLOW_QUERY_MS": Key(500.0, v.number(minimum=0, allow_none=True)),
    # Scrubbing
    "SCRUBBER_CLASS": Key("django_lantern.scrubbing.Scrubber", v.text()),
    "SCRUB_EXTRA_KEYS": Key([], v.texts),
    "SCRUB_EXTRA_PATTERNS": Key([], v.texts),
    # URL parameters whose value is replaced in the path a sink shows
    # (password reset's uidb64 and token); sensitive key names are added.
    "REDACT_PATH_KWARGS": Key(["token", "uidb64", "uid", "key", "secret", "code", "otp", "signature"], v.identifiers),
    "LOG_FIELD_MAX_LENGTH": Key(4096, v.whole(minimum=64)),
    # DEBUG calls of loggers at INFO held per request or task run, written only when it
    # fails (5xx, raised) or is slow (SLOW_REQUEST_MS); docs/logging.md.
    "DEBUG_ON_ERROR": Key(False, v.boolean),
    "DEBUG_ON_ERROR_RECORDS": Key(200, v.whole(minimum=1, maximum=10000)),
    # Management commands: one request id per run (docs/jobs-celery.md)
    "COMMAND_REQUEST_ID": Key(True, v.boolean),
    "COMMAND_REQUEST_ID_SKIP": Key(["runserver", "testserver"], v.text_set),
    # Celery (django_lantern.celery.instrument)
    "TASK_LOGGER": Key("lantern.task", v.text()),
    "TASK_METRICS_PORT": Key(None, v.port),
    "TASK_METRICS_ADDRESS": Key("0.0.0.0", v.text()),
    # Cloud Logging's trace field needs the project; GOOGLE_CLOUD_PROJECT wins.
    "GCP_PROJECT": Key(None, v.text(allow_none=True)),
    # Outbound calls (django_lantern.outbound): None sends the request id and
    # traceparent to every host; a list of host names ("api.example.com",
    # "*.internal") sends them only there.
    "OUTBOUND_HOSTS": Key(None, v.outbound_hosts),
    # The operations page (django_lantern.ops, docs/ops.md): None lets staff in;
    # "app_label.codename" lets in whoever has that permission instead.
    "OPS_PERMISSION": Key(None, v.permission),
    # The cache alias where every worker's records and per-minute history meet.
    "OPS_CACHE": Key("default", v.cache_alias),
}


@dataclass(frozen=True)
class Group:
    """Keys parsed together into one attribute, by a parser kept beside the feature
    (``parse(values_of_these_keys, problems.add)``), e.g. the readiness probe options."""

    defaults: Mapping[str, object]
    parse: Callable[[Mapping[str, object], v.AddError], object]
    field: str


GROUPS: tuple[Group, ...] = (
    # Non-critical checks, per-check timeouts and the disk check (``_validators.parse_probe_options``).
    Group(PROBE_DEFAULTS, parse_probe_options, "probes"),
)


def field_name(key: str) -> str:
    return KEYS[key].field or key.lower()


Networks = tuple[Network, ...]

# The defaults alone, for documentation and tests (``build_settings(DEFAULTS)`` is valid).
DEFAULTS: dict[str, object] = {
    **{key: row.default for key, row in KEYS.items()},
    **{key: default for group in GROUPS for key, default in group.defaults.items()},
}


@dataclass(frozen=True)
class LanternSettings:
    """Validated settings plus the values derived from them once, at start-up."""

    request_id_header: str
    trust_request_id_header: bool
    expose_request_id_header: bool
    request_id_from_trace: bool
    request_id_trusted_networks: Networks | None
    trusted_proxies: Networks
    request_id_fallback_meta_keys: tuple[str, ...]
    access_logger: str
    access_log_skip: tuple[re.Pattern[str], ...]
    access_log_sample: tuple[tuple[re.Pattern[str], float], ...]
    slow_request_ms: float | None
    slow_probe_ms: float | None
    user_id_attribute: str
    load_user: bool
    healthz_paths: frozenset[str]
    readyz_paths: frozenset[str]
    metrics_paths: frozenset[str]
    status_paths: frozenset[str]
    threads_paths: frozenset[str]
    stuck_request_ms: float | None
    readiness_timeout: float
    readiness_cache_seconds: float
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
    metrics_naming: str
    metrics_bearer_token: str | None
    metrics_release: str | None
    metrics_environment: str | None
    metrics_allowed_networks: Networks
    release: str | None
    build_info_file: str | None
    tracing_request_hook: Hook
    tracing_response_hook: Hook
    tracing_query_spans: bool
    tracing_query_max_length: int
    sql_comments: tuple[str, ...]
    n_plus_one: str | None
    n_plus_one_threshold: int
    slow_query_ms: float | None
    scrubber_class: str
    scrub_extra_keys: tuple[str, ...]
    scrub_extra_patterns: tuple[str, ...]
    redact_path_kwargs: frozenset[str]
    log_field_max_length: int
    debug_on_error: bool
    debug_on_error_records: int
    command_request_id: bool
    command_request_id_skip: frozenset[str]
    task_logger: str
    task_metrics_port: int | None
    task_metrics_address: str
    gcp_project: str | None
    outbound_hosts: tuple[str, ...] | None
    ops_permission: str | None
    ops_cache: str
    # Derived (see _derive)
    request_id_meta_key: str
    # The header's name as Django's response header store keys it (lowercase).
    request_id_header_key: str
    probe_paths: frozenset[str]
    # "/readyz/": paths under it name one check (``/readyz/db:default``); "" when READYZ_PATH is None.
    readyz_check_prefix: str
    # (key, value) pairs accepted but ignored; system checks warn about them.
    ignored: tuple[tuple[str, object], ...] = ()
    # READINESS_NON_CRITICAL, ..._CHECK_TIMEOUTS, ..._DISK_PATH, ..._DISK_MIN_FREE (GROUPS)
    probes: ProbeOptions = field(default_factory=ProbeOptions)


def _derive(values: dict[str, Any], problems: Problems) -> None:
    """Values computed from several keys, and rules that span keys."""
    values["request_id_meta_key"] = header_to_meta_key(values["request_id_header"])
    values["request_id_header_key"] = values["request_id_header"].lower()
    keys = ("HEALTHZ_PATH", "READYZ_PATH", "METRICS_PATH", "STATUS_PATH", "THREADS_PATH")
    paths = [values[field_name(key)] for key in keys]
    values["probe_paths"] = frozenset().union(*paths)
    readyz_paths = values["readyz_paths"]
    values["readyz_check_prefix"] = min(readyz_paths, key=len) + "/" if readyz_paths else ""
    if sum(map(len, paths)) != len(values["probe_paths"]):
        given = ", ".join(repr(sorted(p)[0] if p else None) for p in paths)
        problems.errors.append(
            "LANTERN['HEALTHZ_PATH'], ['READYZ_PATH'], ['METRICS_PATH'], ['STATUS_PATH'] and ['THREADS_PATH'] "
            f"must differ; got {given}."
        )


def _merge(user: object, problems: Problems) -> Mapping[str, object]:
    """The user's ``LANTERN`` as a mapping; a non-mapping and every unknown key reported."""
    if user is None:
        return {}
    if not isinstance(user, Mapping):
        problems.errors.append(f"LANTERN is {user!r}; it must be a dict.")
        return {}
    known = set(KEYS).union(*(group.defaults for group in GROUPS))
    for key in sorted(set(user) - known, key=str):
        problems.errors.append(f"LANTERN[{key!r}] is not a django-lantern setting{_near_miss(key, known)}")
    return user


def _near_miss(key: object, known: set[str]) -> str:
    """``; did you mean 'METRICS_PATH'?`` for a misspelt key, else the sentence's full stop."""
    close = difflib.get_close_matches(key.upper(), known, n=1, cutoff=0.75) if isinstance(key, str) else []
    return f"; did you mean {close[0]!r}?" if close else "."


def build_settings(user: Mapping[str, object] | None) -> tuple[LanternSettings, list[str]]:
    """Validate ``user`` over the defaults; return the settings and every error message."""
    problems = Problems()
    given = _merge(user, problems)
    # Heterogeneous by key: each row's validator returns its field's type, which
    # the dataclass constructor and the tests check, not this dict.
    values: dict[str, Any] = {}
    for key, row in KEYS.items():
        before = len(problems.errors)
        value = row.validate(key, given.get(key, row.default), problems)
        if len(problems.errors) > before:
            value = row.validate(key, row.default, Problems())
        values[field_name(key)] = value
    for group in GROUPS:
        values[group.field] = group.parse({key: given.get(key, d) for key, d in group.defaults.items()}, problems.add)
    _derive(values, problems)
    return LanternSettings(**values, ignored=tuple(problems.ignored)), problems.errors


@settings_cache
def _validated() -> tuple[LanternSettings, list[str]]:
    return build_settings(getattr(django_settings, "LANTERN", None))


@settings_cache
def get_settings() -> LanternSettings:
    """The validated settings; raises ``ImproperlyConfigured`` on a bad value.

    Cached until a ``setting_changed`` signal clears it (``django_lantern._caching``).
    """
    built, errors = _validated()
    if errors:
        # One paragraph, as lantern.E002 prints it under ``manage.py check``.
        raise ImproperlyConfigured(f"(lantern.E002) Invalid LANTERN setting: {' '.join(errors)} {SETTINGS_HINT}")
    return built


def settings_for_server() -> LanternSettings:
    """The settings, once, as a server loads the middleware: it refuses to start without
    the app or with a bad value, rather than failing (or quietly degrading) request by request."""
    if not apps.is_installed("django_lantern"):
        raise ImproperlyConfigured(NOT_INSTALLED)
    return get_settings()


def settings_errors() -> list[str]:
    """Validation messages for the current ``LANTERN`` value (used by system checks)."""
    return list(_validated()[1])


def settings_for_checks() -> LanternSettings:
    """The settings with every invalid value replaced by its default.

    For system checks, which must run (and report) even when ``LANTERN`` is
    invalid; everything else calls :func:`get_settings`.
    """
    return _validated()[0]
