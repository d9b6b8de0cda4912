"""Metric families: names, build info, process start time."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.test import override_settings
from prometheus_client import CollectorRegistry

from django_lantern import __version__
from django_lantern.conf import get_settings
from django_lantern.metrics import _families as families
from django_lantern.metrics import _naming, _process_start
from tests.metrics.conftest import value


def test_names_follow_prometheus_conventions() -> None:
    """Counters end in _total exactly once, durations are in seconds, nothing is doubled."""
    registry = CollectorRegistry()
    fams = families.build(registry)
    names = {s.name for m in registry.collect() for s in m.samples}
    assert "http_server_requests_total" not in names  # no samples until a request
    fams.requests.labels("GET", "/", "200").inc()
    fams.duration.labels("GET", "/").observe(0.1)
    names = {s.name for m in registry.collect() for s in m.samples}
    assert {"http_server_requests_total", "http_server_request_duration_seconds_bucket"} <= names
    assert not [n for n in names if n.count("_total") > 1]
    assert {m.type for m in registry.collect() if m.name == "http_server_active_requests"} == {"gauge"}


def test_build_info_from_settings() -> None:
    """lantern_build_info carries version, release and environment from LANTERN settings."""
    with override_settings(LANTERN={"METRICS_RELEASE": "abc123", "METRICS_ENVIRONMENT": "staging"}):
        families.get_families()
        labels = {
            "version": __version__,
            "release": "abc123",
            "environment": "staging",
        }
        samples = [
            s for m in families.get_families().registry.collect() if m.name == "lantern_build_info" for s in m.samples
        ]
        assert len(samples) == 1
        assert samples[0].value == 1
        assert labels.items() <= samples[0].labels.items()


def test_build_info_falls_back_to_sentry_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without settings, SENTRY_RELEASE / SENTRY_ENVIRONMENT name the release; else `unknown`."""
    monkeypatch.setenv("SENTRY_RELEASE", "r" * 128)
    monkeypatch.delenv("SENTRY_ENVIRONMENT", raising=False)
    families.get_families()
    samples = [
        s for m in families.get_families().registry.collect() if m.name == "lantern_build_info" for s in m.samples
    ]
    assert samples[0].labels["release"] == "r" * _naming.MAX_INFO_LABEL
    assert samples[0].labels["environment"] == "unknown"


def test_build_info_release_too_long_is_no_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 500-character SENTRY_RELEASE is not a release (``_validators.release_text``): `unknown`, not a cut value."""
    monkeypatch.setenv("SENTRY_RELEASE", "r" * 500)
    assert _naming.build_labels(get_settings())["release"] == "unknown"


def test_ignored_release_setting_falls_back_to_sentry_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A METRICS_RELEASE that is not a string is ignored (lantern.W012), so SENTRY_RELEASE names the release."""
    monkeypatch.setenv("SENTRY_RELEASE", "from-env")
    with override_settings(LANTERN={"METRICS_RELEASE": 42}):
        labels = _naming.build_labels(get_settings())
    assert labels["release"] == "from-env"


def test_process_start_time() -> None:
    """The start time is this process's own, in the past, and exported as a gauge."""
    start = _process_start.process_start()
    assert start <= time.time()
    assert _process_start.process_start() == start
    families.get_families()
    assert value("lantern_process_start_time_seconds") == start
    assert _process_start._start_of.cache_info().hits >= 1  # read once per pid


def test_reset_unregisters() -> None:
    """After reset the next build registers fresh families without a duplicate-name error."""
    first = families.get_families()
    families.get_families.cache_clear()
    second = families.get_families()
    assert first is not second


# Families still declared elsewhere, to move into families.py (the logging pass).
DECLARED_ELSEWHERE: set[str] = set()


def test_every_metric_family_is_declared_in_families_py() -> None:
    """Counters, gauges and histograms are declared only in metrics/_families.py, so names,
    namespaces and multi-process modes are reviewed in one place."""
    package = Path(families.__file__).resolve().parents[1]
    declaring = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if re.search(r"\b(Counter|Gauge|Histogram|Summary)\(", path.read_text())
    }
    assert declaring == {"metrics/_families.py"} | DECLARED_ELSEWHERE


def test_log_counters_follow_the_settings_and_keep_their_counts() -> None:
    """The log counters are families like the others: rebuilt under a new namespace
    on a settings change, carrying the counts made so far, and gone when metrics are off."""
    from django.test import override_settings
    from prometheus_client import REGISTRY

    from django_lantern.logging import handlers

    handlers._count(handlers.ERRORS)
    made = handlers.stats()[handlers.ERRORS]
    with override_settings(LANTERN={"METRICS_NAMESPACE": "shop"}):
        handlers.ensure_metrics()
        assert REGISTRY.get_sample_value("shop_lantern_log_errors_total") == made
        assert REGISTRY.get_sample_value("lantern_log_errors_total") is None
        handlers._count(handlers.ERRORS)
        assert REGISTRY.get_sample_value("shop_lantern_log_errors_total") == made + 1
    with override_settings(LANTERN={"METRICS_ENABLED": False}):
        handlers._count(handlers.ERRORS)
        assert REGISTRY.get_sample_value("lantern_log_errors_total") is None
    handlers.ensure_metrics()
    assert REGISTRY.get_sample_value("lantern_log_errors_total") == made + 2
    assert REGISTRY.get_sample_value("shop_lantern_log_errors_total") is None
