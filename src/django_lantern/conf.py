"""django-lantern settings: one ``LANTERN`` dict, read lazily, validated once.

Every key, its default and its validator is one row of
``django_lantern.conf_table.KEYS`` (and a line of ``docs/configuration.md``).
Settings are never read at import time: the first call to :func:`get_settings`
reads ``settings.LANTERN``, validates every key and caches one frozen
:class:`LanternSettings`; the rest of the package reads only that object. A
bad value stops the process at start-up (``LanternConfig.ready``) with a
message naming the key, the value and the fix. ``override_settings`` clears
the cache (``django_lantern.caching``).

Adding a setting
----------------
1. One row in ``conf_table.KEYS``: ``"MY_KEY": Key(default, validator)``, the
   validator taken from ``conf_validators`` (``v.boolean``, ``v.number(minimum=0)``,
   ``v.text(allow_none=True)``, ``v.texts``, ``v.networks()``, ...) or written
   there as ``(key, value, problems) -> parsed`` calling
   ``problems.add(key, value, "what it must be")`` on a bad value.
2. One field in :class:`LanternSettings`, named as the key in lower case
   (``my_key``), typed as the validator's result. A field named otherwise is the
   row's third argument: ``Key(default, validator, "my_field")``.
3. A line in ``docs/configuration.md``.

Several keys parsed together into one attribute (a feature's own options
object) are a ``conf_table.Group(defaults, parse, "field")`` in ``GROUPS``, with
``parse(values, add_error)`` kept beside the feature. A value computed from
keys that are parsed separately goes in :func:`_derive`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from django_lantern.caching import settings_cache
from django_lantern.conf_table import GROUPS, KEYS, field_name
from django_lantern.conf_validators import Hook, Problems, header_to_meta_key
from django_lantern.health.options import ProbeOptions
from django_lantern.networks import Network

__all__ = ["LanternSettings", "get_settings"]

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
    user_id_attribute: str
    healthz_paths: frozenset[str]
    readyz_paths: frozenset[str]
    metrics_paths: frozenset[str]
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
    metrics_bearer_token: str | None
    metrics_release: str | None
    metrics_environment: str | None
    metrics_allowed_networks: Networks
    tracing_request_hook: Hook
    tracing_response_hook: Hook
    tracing_query_spans: bool
    tracing_query_max_length: int
    scrubber_class: str
    scrub_extra_keys: tuple[str, ...]
    scrub_extra_patterns: tuple[str, ...]
    log_field_max_length: int
    command_request_id: bool
    command_request_id_skip: frozenset[str]
    task_logger: str
    task_metrics_port: int | None
    task_metrics_address: str
    gcp_project: str | None
    outbound_hosts: tuple[str, ...] | None
    # Derived (see _derive)
    request_id_meta_key: str
    probe_paths: frozenset[str]
    # "/readyz/": paths under it name one check (``/readyz/db:default``); "" when READYZ_PATH is None.
    readyz_check_prefix: str
    # (key, value) pairs accepted but ignored; system checks warn about them.
    ignored: tuple[tuple[str, object], ...] = ()
    # READINESS_NON_CRITICAL, ..._CHECK_TIMEOUTS, ..._DISK_PATH, ..._DISK_MIN_FREE (conf_table.GROUPS)
    probes: ProbeOptions = field(default_factory=ProbeOptions)


def _derive(values: dict[str, Any], problems: Problems) -> None:
    """Values computed from several keys, and rules that span keys."""
    values["request_id_meta_key"] = header_to_meta_key(values["request_id_header"])
    paths = {key: values[field_name(key)] for key in ("HEALTHZ_PATH", "READYZ_PATH", "METRICS_PATH")}
    values["probe_paths"] = frozenset().union(*paths.values())
    readyz_paths = values["readyz_paths"]
    values["readyz_check_prefix"] = min(readyz_paths, key=len) + "/" if readyz_paths else ""
    healthz, readyz, metrics = paths.values()
    if healthz & readyz or healthz & metrics or readyz & metrics:
        problems.errors.append(
            "LANTERN['HEALTHZ_PATH'], ['READYZ_PATH'] and ['METRICS_PATH'] must differ; got {!r}, {!r}, {!r}.".format(
                *paths.values()
            )
        )


def _merge(user: object, problems: Problems) -> Mapping[str, object]:
    """The user's ``LANTERN`` as a mapping; a non-mapping and every unknown key reported."""
    if user is None:
        return {}
    if not isinstance(user, Mapping):
        problems.errors.append(f"LANTERN is {user!r}; it must be a dict.")
        return {}
    known = set(KEYS).union(*(group.defaults for group in GROUPS))
    for key in sorted(set(user) - known):
        problems.errors.append(
            f"LANTERN[{key!r}] is not a django-lantern setting; the known keys are listed in docs/configuration.md."
        )
    return user


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

    Cached until a ``setting_changed`` signal clears it (``django_lantern.caching``).
    """
    built, errors = _validated()
    if errors:
        raise ImproperlyConfigured("Invalid django-lantern settings: " + " ".join(errors))
    return built


def settings_errors() -> list[str]:
    """Validation messages for the current ``LANTERN`` value (used by system checks)."""
    return list(_validated()[1])


def settings_for_checks() -> LanternSettings:
    """The settings with every invalid value replaced by its default.

    For system checks, which must run (and report) even when ``LANTERN`` is
    invalid; everything else calls :func:`get_settings`.
    """
    return _validated()[0]


def clear_cache() -> None:
    """Forget the validated settings (the next read validates ``LANTERN`` again)."""
    _validated.cache_clear()
    get_settings.cache_clear()
