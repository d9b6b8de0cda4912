"""Every ``LANTERN`` key: its default, its validator and the attribute it fills.

One row per key, in the order of ``docs/configuration.md``. The attribute of
``LanternSettings`` is the key in lower case unless the row names another
(``HEALTHZ_PATH`` fills ``healthz_paths``: the parsed value is a set).
See "Adding a setting" in ``django_lantern.conf``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django_lantern import conf_validators as v
from django_lantern.health.options import PROBE_DEFAULTS, parse_probe_options


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
    "USER_ID_ATTRIBUTE": Key("pk", v.text()),
    # Probes and the metrics endpoint, answered by the middleware itself
    "HEALTHZ_PATH": Key("/healthz", v.probe_path, "healthz_paths"),
    "READYZ_PATH": Key("/readyz", v.probe_path, "readyz_paths"),
    "METRICS_PATH": Key("/metrics", v.probe_path, "metrics_paths"),
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
    # Tracing (django_lantern.tracing): hooks are callables or dotted paths to them,
    # request_hook(span, request) and response_hook(span, request, response).
    "TRACING_REQUEST_HOOK": Key(None, v.hook),
    "TRACING_RESPONSE_HOOK": Key(None, v.hook),
    "TRACING_QUERY_SPANS": Key(False, v.boolean),
    "TRACING_QUERY_MAX_LENGTH": Key(2048, v.whole(minimum=64)),
    # Scrubbing
    "SCRUBBER_CLASS": Key("django_lantern.scrubbing.Scrubber", v.text()),
    "SCRUB_EXTRA_KEYS": Key([], v.texts),
    "SCRUB_EXTRA_PATTERNS": Key([], v.texts),
    "LOG_FIELD_MAX_LENGTH": Key(4096, v.whole(minimum=64)),
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
}


@dataclass(frozen=True)
class Group:
    """Keys parsed together into one attribute, by a parser kept beside the feature
    (``parse(values_of_these_keys, problems.add)``), e.g. the readiness probe options."""

    defaults: Mapping[str, object]
    parse: Callable[[Mapping[str, object], v.AddError], object]
    field: str


GROUPS: tuple[Group, ...] = (
    # Non-critical checks, per-check timeouts and the disk check (health/options.py).
    Group(PROBE_DEFAULTS, parse_probe_options, "probes"),
)


def field_name(key: str) -> str:
    return KEYS[key].field or key.lower()
