"""Every django-lantern system check (``manage.py check``); each id is listed in docs/checks.md.

Each message is one :class:`Message` constant named after its id, holding the
text, the hint and the level; a check function only decides whether it
applies and fills in the values. Core checks are E001-E003 and W001-W002,
metrics E010 and W010-W013, the release W014, logging and request ids E020-E021, bounded
waits W020-W021 (deploy), error reports W030.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.log import AdminEmailHandler
from django.utils.module_loading import import_string

from django_lantern import reporting, sentry
from django_lantern._validators import Network, parse_networks
from django_lantern.conf import KEYS, SETTINGS_HINT, docs_url, settings_errors, settings_for_checks
from django_lantern.health._registry import build_checks
from django_lantern.logging._attached import attached_handlers
from django_lantern.logging.filters import RequestContextFilter
from django_lantern.metrics import _workers
from django_lantern.scrubbing import build_scrubber
from django_lantern.tracing._hooks import resolve_hooks

if TYPE_CHECKING:
    from django.apps import AppConfig

MIDDLEWARE_PATH = "django_lantern.middleware.LanternMiddleware"
FILTER_PATH = "django_lantern.logging.RequestContextFilter"


@dataclass(frozen=True)
class Message:
    """One check message: its id (``lantern.E...`` is an error, ``lantern.W...`` a warning),
    its text and its hint, both ``str.format`` templates."""

    id: str
    text: str
    hint: str

    def __call__(self, **values: object) -> CheckMessage:
        level = Error if self.id.startswith("lantern.E") else Warning
        return level(self.text.format(**values), hint=self.hint.format(**values), id=self.id)


E001_MISSING_MIDDLEWARE = Message(
    "lantern.E001",
    f"{MIDDLEWARE_PATH} is not in settings.MIDDLEWARE.",
    f'Add "{MIDDLEWARE_PATH}" as the first entry of MIDDLEWARE.',
)
E002_BAD_SETTING = Message(
    "lantern.E002",
    "Invalid LANTERN setting: {message}",
    SETTINGS_HINT,
)
E003_UNRESOLVED = Message(
    "lantern.E003",
    "{message}",
    f"Fix the dotted path (or the pattern) named in the message; see {docs_url('configuration')}.",
)
W001_NOT_FIRST = Message(
    "lantern.W001",
    f"{MIDDLEWARE_PATH} is at position {{position}} of MIDDLEWARE, after {{before}}.",
    "Move it to the top, so that probes bypass host checks and redirects, and every "
    "log line of every middleware carries the request id.",
)
W002_FILTER_MISSING = Message(
    "lantern.W002",
    "No handler in settings.LOGGING uses django_lantern's RequestContextFilter, "
    "so log lines will not carry request_id, user_id, method, path or route.",
    "Use LOGGING = build_logging_config() from django_lantern.logging, or add "
    f'{{{{"()": "{FILTER_PATH}"}}}} to LOGGING["filters"] and name it in each handler\'s "filters".',
)
E010_BAD_NETWORK = Message(
    "lantern.E010",
    "LANTERN['METRICS_ALLOWED_NETWORKS'] contains {invalid!r}, which is not an IP network; such entries allow no one.",
    'Use CIDR notation such as "10.0.0.0/8" or "::1/128".',
)
W010_OPEN_METRICS = Message(
    "lantern.W010",
    "/metrics is open to everyone: LANTERN['METRICS_ALLOWED_NETWORKS'] contains {everyone!r} "
    "and no METRICS_BEARER_TOKEN is set.",
    "Allow only the networks your Prometheus scrapes from, or set LANTERN['METRICS_BEARER_TOKEN'] "
    "and give Prometheus the same token (authorization: credentials in its scrape config).",
)
W013_METRICS_THROUGH_PROXY = Message(
    "lantern.W013",
    "/metrics admits every address in {networks} without a token, and this site runs behind a "
    "reverse proxy ({evidence}): a proxy or load balancer on such an address forwards anyone's "
    "request from its own address, so /metrics is then open to everyone who can reach the proxy.",
    "Set LANTERN['METRICS_BEARER_TOKEN'] and give Prometheus the token, or narrow "
    "METRICS_ALLOWED_NETWORKS to your scrapers' addresses, or refuse /metrics at the proxy "
    "(then list lantern.W013 in SILENCED_SYSTEM_CHECKS).",
)
W011_NO_MULTIPROC_DIR = Message(
    "lantern.W011",
    "Several worker processes are likely ({evidence}) and PROMETHEUS_MULTIPROC_DIR is not set. "
    "Under gunicorn and uvicorn lantern sets it up by itself, but not here: {blocker}, "
    "so each worker's /metrics will answer 503 rather than show its own numbers as the totals.",
    "Set PROMETHEUS_MULTIPROC_DIR to an empty, writable directory (in Kubernetes an emptyDir volume), "
    "or call django_lantern.metrics.multiprocess.prepare_multiproc_dir() in gunicorn.conf.py with the hooks "
    f"of django_lantern.gunicorn; see {docs_url('metrics', 'under-gunicorn-several-workers')}.",
)
W012_BAD_INFO = Message(
    "lantern.W012",
    "LANTERN[{key!r}] is {value!r}; it must be a string or None.",
    "It becomes a label of lantern_build_info; the value is ignored until fixed.",
)
W014_SENTRY_RELEASE = Message(
    "lantern.W014",
    "Sentry reports release {theirs!r}, but this process is release {ours!r} (/statusz, log lines, metrics).",
    "django_lantern.sentry.init() ran before Django's settings were loaded (from settings.py), so "
    "LANTERN['RELEASE'] was not read: call it from wsgi.py or asgi.py, or name the release with "
    f"SENTRY_RELEASE or GIT_COMMIT; see {docs_url('status')}.",
)
E020_LOG_DIRECTORY = Message(
    "lantern.E020",
    "LOGGING handler {handler!r} writes to {filename!r}, but {problem}; its records would be lost.",
    "Create the directory (writable by the server's user) or point the handler's 'filename' elsewhere.",
)
E021_META_HEADER = Message(
    "lantern.E021",
    "LANTERN['REQUEST_ID_HEADER'] is {value!r}, which is the WSGI META key, not the header name: "
    "no request ever carries it, so every incoming id would be ignored.",
    'Write the HTTP header name: LANTERN["REQUEST_ID_HEADER"] = {fixed!r}.',
)
_BOUNDED_WAITS = docs_url("health", "bounded-waits")
W020_POSTGRES_UNBOUNDED = Message(
    "lantern.W020",
    "DATABASES[{alias!r}] (PostgreSQL) sets no connect_timeout: opening a connection to an unreachable "
    "server waits for as long as the OS tries.",
    'Set OPTIONS {{"connect_timeout": 2, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, '
    '"keepalives_count": 3, "tcp_user_timeout": 10000}}; see ' + _BOUNDED_WAITS + ".",
)
W021_REDIS_UNBOUNDED = Message(
    "lantern.W021",
    "CACHES[{alias!r}] (RedisCache) sets no {missing}: a request waits for an unresponsive Redis "
    "forever on redis-py 5, 5 s on redis-py 8.",
    'Set OPTIONS {{"socket_connect_timeout": 1, "socket_timeout": 1}}; see ' + _BOUNDED_WAITS + ".",
)
W030_REPORTER = Message(
    "lantern.W030",
    "Error e-mails of the LOGGING handler {handler!r} are rendered by {reporter} with {filter}, which show {what}.",
    'Set DEFAULT_EXCEPTION_REPORTER = "{path}" (it brings its own filter), or make the handler '
    '"django_lantern.reporting.ScrubbingAdminEmailHandler", as build_logging_config() does.',
)
# What each combination leaves in a mail. Django's filter is fair to a point: it
# hides settings and META keys whose names look secret, and what a view marks
# with @sensitive_variables / @sensitive_post_parameters, nothing else.
_REPORT_GAPS = {
    True: "the query string, the request URL and the exception message as they are",
    False: "the query string, the request URL and the exception message as they are, and every "
    "credential whose name does not look secret (a password in a URL or a DSN, the Authorization "
    "header, POST fields and frame locals no @sensitive_* decorator marks)",
}
Messages = list[CheckMessage]
Configs = Sequence["AppConfig"] | None


# -- the middleware, the settings, the dotted paths ------------------------------
@register(Tags.compatibility)
def check_middleware(app_configs: Configs = None, **kwargs: object) -> Messages:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [E001_MISSING_MIDDLEWARE()]
    position = middleware.index(MIDDLEWARE_PATH)
    if position != 0:
        return [W001_NOT_FIRST(position=position, before=middleware[0])]
    return []


@register(Tags.compatibility)
def check_settings(app_configs: Configs = None, **kwargs: object) -> Messages:
    return [E002_BAD_SETTING(message=message) for message in settings_errors()]


@register(Tags.compatibility)
def check_dotted_paths(app_configs: Configs = None, **kwargs: object) -> Messages:
    """``READINESS_CHECKS``, ``SCRUBBER_CLASS`` and the tracing hooks resolve, built exactly as at run time.

    Without this a typo surfaces only as a 500 from ``/readyz`` or as logs
    scrubbed with the defaults instead of your scrubber.
    """
    if settings_errors():
        return []  # lantern.E002 already names the bad values
    messages: Messages = []
    for build in (build_checks, build_scrubber, resolve_hooks):
        try:
            build()
        except ImproperlyConfigured as exc:
            messages.append(E003_UNRESOLVED(message=exc))
    return messages


# -- logging and request ids -----------------------------------------------------
def _is_context_filter(spec: object) -> bool:
    if not isinstance(spec, dict):
        return False
    factory = spec.get("()")
    if factory is None:
        return False
    if isinstance(factory, str):
        if factory in (FILTER_PATH, "django_lantern.logging.filters.RequestContextFilter"):
            return True
        try:
            factory = import_string(factory)
        except ImportError:
            return False
    return isinstance(factory, type) and issubclass(factory, RequestContextFilter)


@register(Tags.compatibility)
def check_logging_filter(app_configs: Configs = None, **kwargs: object) -> Messages:
    config = getattr(settings, "LOGGING", None) or {}
    filters = {name for name, spec in (config.get("filters") or {}).items() if _is_context_filter(spec)}
    handlers = config.get("handlers") or {}
    if any(set(h.get("filters") or ()) & filters for h in handlers.values() if isinstance(h, dict)):
        return []
    return [W002_FILTER_MISSING()]


@register(Tags.compatibility)
def check_request_id_header(app_configs: Configs = None, **kwargs: object) -> Messages:
    """``HTTP_X_REQUEST_ID`` (django-log-request-id's spelling) is a META key, not a header.

    Django derives ``HTTP_HTTP_X_REQUEST_ID`` from it, and servers drop
    headers with underscores, so it silently reads nothing.
    """
    value = (getattr(settings, "LANTERN", None) or {}).get("REQUEST_ID_HEADER")
    if not isinstance(value, str) or not value.upper().startswith("HTTP_"):
        return []
    fixed = "-".join(part.capitalize() for part in value[5:].split("_") if part) or "X-Request-Id"
    return [E021_META_HEADER(value=value, fixed=fixed)]


@register(Tags.compatibility)
def check_log_file_directories(app_configs: Configs = None, **kwargs: object) -> Messages:
    """A file handler whose directory is missing or read-only loses every record, silently.

    ``SafeFileHandler`` opens its file lazily and counts failures instead of
    raising, so without this check the first sign is an empty log.
    """
    handlers = (getattr(settings, "LOGGING", None) or {}).get("handlers") or {}
    messages: Messages = []
    for name, spec in handlers.items():
        filename = spec.get("filename") if isinstance(spec, dict) else None
        if not isinstance(filename, (str, os.PathLike)):
            continue
        directory = os.path.dirname(os.path.abspath(filename))
        if not os.path.isdir(directory):
            problem = f"the directory {directory!r} does not exist"
        elif not os.access(directory, os.W_OK | os.X_OK) and not os.access(filename, os.W_OK):
            problem = f"the directory {directory!r} is not writable"
        else:
            continue
        messages.append(E020_LOG_DIRECTORY(handler=name, filename=os.fspath(filename), problem=problem))
    return messages


def _mail_handlers() -> list[AdminEmailHandler]:
    """Every ``AdminEmailHandler`` attached to a logger, as logging is configured now."""
    return [handler for handler in attached_handlers() if isinstance(handler, AdminEmailHandler)]


@register(Tags.security)
def check_exception_reporter(app_configs: Configs = None, **kwargs: object) -> Messages:
    """Error reports that leave the process (mailed to ``ADMINS``) go through the scrubber.

    Only mail counts: the DEBUG technical 500 page is the developer's own, and
    DEBUG in production is Django's security.W018. With no ``ADMINS``, Django's
    handler sends nothing.
    """
    if not getattr(settings, "ADMINS", None):
        return []
    messages: Messages = []
    for handler in _mail_handlers():
        reporter = handler.reporter_class
        if issubclass(reporter, reporting.ScrubbingExceptionReporter):
            continue
        filter_path = getattr(settings, "DEFAULT_EXCEPTION_REPORTER_FILTER", "")
        try:
            filter_ours = issubclass(import_string(filter_path), reporting.ScrubbingExceptionReporterFilter)
        except (ImportError, TypeError):
            filter_ours = False  # Django itself fails on it
        messages.append(
            W030_REPORTER(
                handler=handler.name or type(handler).__name__,
                reporter=f"{reporter.__module__}.{reporter.__qualname__}",
                filter=filter_path,
                what=_REPORT_GAPS[filter_ours],
                path=reporting.REPORTER_PATH,
            )
        )
    return messages


# -- metrics ---------------------------------------------------------------------
@register(Tags.security, deploy=True)
def check_metrics_exposure(app_configs: Configs = None, **kwargs: object) -> Messages:
    cfg = settings_for_checks()
    if not cfg.metrics_enabled or cfg.metrics_bearer_token:
        return []
    everyone = [str(n) for n in cfg.metrics_allowed_networks if n.prefixlen == 0]
    if everyone:
        return [W010_OPEN_METRICS(everyone=", ".join(everyone))]
    broad = [str(n) for n in cfg.metrics_allowed_networks if _holds_a_proxy_range(n, cfg.trusted_proxies)]
    evidence = _proxy_evidence(cfg.trusted_proxies)
    if not broad or not evidence:
        return []
    return [W013_METRICS_THROUGH_PROXY(networks=", ".join(broad), evidence=", ".join(evidence))]


def _proxy_evidence(trusted_proxies: tuple[Network, ...]) -> list[str]:
    """The settings that say a reverse proxy sits in front of this site.

    Without one, the private ranges are where Prometheus scrapes from (a pod,
    a node, a sidecar), and the default allowlist is what such a site needs.
    """
    found = ["LANTERN['TRUSTED_PROXIES']"] if trusted_proxies else []
    for name in ("SECURE_PROXY_SSL_HEADER", "USE_X_FORWARDED_HOST", "USE_X_FORWARDED_PORT"):
        if getattr(settings, name, None):
            found.append(name)
    return found


# Where reverse proxies live: the loopback and private ranges, the default allowlist.
_PROXY_RANGES = parse_networks(cast("list[str]", KEYS["METRICS_ALLOWED_NETWORKS"].default))[0]


def _holds_a_proxy_range(network: Network, trusted_proxies: tuple[Network, ...]) -> bool:
    """Whether ``network`` holds a whole loopback or private range, or one of our trusted proxies."""
    return any(
        r.version == network.version and r.subnet_of(network)  # type: ignore[arg-type]
        for r in (*_PROXY_RANGES, *trusted_proxies)
    )


def _ignored(*keys: str) -> list[tuple[str, object]]:
    """The values of ``keys`` that validation accepted but ignored."""
    return [(key, value) for key, value in settings_for_checks().ignored if key in keys]


@register(Tags.security)
def check_metrics_networks(app_configs: Configs = None, **kwargs: object) -> Messages:
    return [E010_BAD_NETWORK(invalid=bad) for _, bad in _ignored("METRICS_ALLOWED_NETWORKS")]


@register(Tags.compatibility)
def check_build_info_settings(app_configs: Configs = None, **kwargs: object) -> Messages:
    return [W012_BAD_INFO(key=key, value=value) for key, value in _ignored("METRICS_RELEASE", "METRICS_ENVIRONMENT")]


@register(Tags.compatibility)
def check_sentry_release(app_configs: Configs = None, **kwargs: object) -> Messages:
    found = sentry.release_disagreement()
    return [] if found is None else [W014_SENTRY_RELEASE(theirs=found[0], ours=found[1])]


# gunicorn reads ./gunicorn.conf.py by default; ``workers = 1`` is the only safe literal.
_WORKERS_LINE = re.compile(r"^\s*workers\s*=\s*(?P<value>[^#\n]+)", re.MULTILINE)
_PREPARES_DIR = ("PROMETHEUS_MULTIPROC_DIR", "prepare_multiproc_dir")


def _workers_evidence(cwd: Path) -> str | None:
    """Why several workers are likely, or None. Heuristics, cheap, run once."""
    concurrency = os.environ.get("WEB_CONCURRENCY", "").strip()
    if concurrency.isdigit() and int(concurrency) > 1:
        return f"WEB_CONCURRENCY={concurrency}"
    args = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
    for i, arg in enumerate(args):
        value = None
        if arg in ("-w", "--workers") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--workers="):
            value = arg.split("=", 1)[1]
        if value is not None and not (value.isdigit() and int(value) <= 1):
            return f"GUNICORN_CMD_ARGS sets --workers {value}"
    config = cwd / "gunicorn.conf.py"
    try:
        text = config.read_text(errors="replace")
    except OSError:
        return None
    match = _WORKERS_LINE.search(text)
    if match and match.group("value").strip() != "1" and not any(token in text for token in _PREPARES_DIR):
        return f"{config} sets workers = {match.group('value').strip()}"
    return None


@register(Tags.compatibility, deploy=True)
def check_multiprocess_dir(app_configs: Configs = None, **kwargs: object) -> Messages:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or not settings_for_checks().metrics_enabled:
        return []
    evidence = _workers_evidence(Path.cwd())
    blocked = None if evidence is None else _workers.blocker()
    return [] if blocked is None else [W011_NO_MULTIPROC_DIR(evidence=evidence, blocker=blocked)]


# -- bounded waits (deploy) ---------------------------------------------------------
# The readiness checks bound their own waits (their own connection and client);
# these warnings are about the request threads, which use the aliases as
# configured: a PostgreSQL alias without ``connect_timeout`` waits for a dead host
# for as long as the OS tries (psycopg 3: 130 s), and a Redis cache without
# ``socket_timeout`` waits for a reply forever on redis-py 5 (5 s on redis-py 8).
def _is_redis_cache(backend: object) -> bool:
    if not isinstance(backend, str):
        return False
    try:
        cls = import_string(backend)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, RedisCache)


@register(Tags.database, Tags.caches, deploy=True)
def check_bounded_waits(app_configs: Configs = None, **kwargs: object) -> Messages:
    """Database and cache aliases that request threads would wait on without a bound."""
    messages: Messages = [
        W020_POSTGRES_UNBOUNDED(alias=alias)
        for alias, conf in (getattr(settings, "DATABASES", None) or {}).items()
        if str(conf.get("ENGINE", "")).endswith("postgresql") and not (conf.get("OPTIONS") or {}).get("connect_timeout")
    ]
    for alias, conf in (getattr(settings, "CACHES", None) or {}).items():
        if not _is_redis_cache(conf.get("BACKEND")):
            continue
        options = conf.get("OPTIONS") or {}
        missing = [key for key in ("socket_timeout", "socket_connect_timeout") if not options.get(key)]
        if missing:
            messages.append(W021_REDIS_UNBOUNDED(alias=alias, missing=" or ".join(missing)))
    return messages
