"""System checks for metrics (``manage.py check --deploy``); ids lantern.E010, W010+.

Core checks use lantern.E001/E002/W001/W002; the metrics ones start at 10.
Every id is listed in docs/metrics.md.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_lantern.conf import settings_for_checks

if TYPE_CHECKING:
    from django.apps import AppConfig

E010_BAD_NETWORK = (
    "LANTERN['METRICS_ALLOWED_NETWORKS'] contains {invalid!r}, which is not an IP network; such entries allow no one.",
    'Use CIDR notation such as "10.0.0.0/8" or "::1/128".',
)
W010_OPEN_METRICS = (
    "/metrics is open to everyone: LANTERN['METRICS_ALLOWED_NETWORKS'] contains {everyone!r} "
    "and no METRICS_BEARER_TOKEN is set.",
    "Allow only the networks your Prometheus scrapes from, or set LANTERN['METRICS_BEARER_TOKEN'] "
    "and give Prometheus the same token (authorization: credentials in its scrape config).",
)
W011_NO_MULTIPROC_DIR = (
    "Several worker processes are likely ({evidence}) but PROMETHEUS_MULTIPROC_DIR is not set, "
    "so each scrape would show one worker's numbers and counters would jump between workers.",
    "Use django_lantern.metrics.multiprocess in gunicorn.conf.py (prepare_multiproc_dir(), "
    "on_starting, child_exit) or set PROMETHEUS_MULTIPROC_DIR to an empty, writable directory; "
    "see docs/metrics.md.",
)
W012_BAD_INFO = (
    "LANTERN[{key!r}] is {value!r}; it must be a string or None.",
    "It becomes a label of lantern_build_info; the value is ignored until fixed.",
)

# gunicorn reads ./gunicorn.conf.py by default; ``workers = 1`` is the only safe literal.
_WORKERS_LINE = re.compile(r"^\s*workers\s*=\s*(?P<value>[^#\n]+)", re.MULTILINE)
_PREPARES_DIR = ("PROMETHEUS_MULTIPROC_DIR", "prepare_multiproc_dir")


@register(Tags.security, deploy=True)
def check_metrics_exposure(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    cfg = settings_for_checks()
    if not cfg.metrics_enabled or cfg.metrics_bearer_token:
        return []
    everyone = [str(n) for n in cfg.metrics_allowed_networks if n.prefixlen == 0]
    if not everyone:
        return []
    msg, hint = W010_OPEN_METRICS
    return [Warning(msg.format(everyone=", ".join(everyone)), hint=hint, id="lantern.W010")]


def _ignored(*keys: str) -> list[tuple[str, object]]:
    """The values of ``keys`` that validation accepted but ignored."""
    return [(key, value) for key, value in settings_for_checks().ignored if key in keys]


@register(Tags.security)
def check_metrics_networks(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    msg, hint = E010_BAD_NETWORK
    return [
        Error(msg.format(invalid=bad), hint=hint, id="lantern.E010") for _, bad in _ignored("METRICS_ALLOWED_NETWORKS")
    ]


@register(Tags.compatibility)
def check_build_info_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    msg, hint = W012_BAD_INFO
    return [
        Warning(msg.format(key=key, value=value), hint=hint, id="lantern.W012")
        for key, value in _ignored("METRICS_RELEASE", "METRICS_ENVIRONMENT")
    ]


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
def check_multiprocess_dir(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[CheckMessage]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or not settings_for_checks().metrics_enabled:
        return []
    evidence = _workers_evidence(Path.cwd())
    if evidence is None:
        return []
    msg, hint = W011_NO_MULTIPROC_DIR
    return [Warning(msg.format(evidence=evidence), hint=hint, id="lantern.W011")]
