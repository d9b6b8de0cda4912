"""One deploy, one name: with ``GIT_COMMIT=abc123`` the same release is in /statusz, the log lines of every
schema, ``lantern_build_info``, the Sentry event and the OpenTelemetry resource."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from django_lantern import tracing
from django_lantern.logging import JsonFormatter
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter
from django_lantern.metrics import _families as families
from tests.helpers.integrations import SentryEndpoint, flush_sentry

RELEASE = "abc123"


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The only hint of what is running is the commit a CI or PaaS put in the environment."""
    monkeypatch.delenv("SENTRY_RELEASE", raising=False)  # the sentry fixture names a release of its own
    monkeypatch.setenv("GIT_COMMIT", RELEASE)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    families.get_families.cache_clear()
    yield
    families.get_families.cache_clear()


def _build_info_release() -> str:
    for metric in families.get_families().registry.collect():
        if metric.name == "lantern_build_info":
            return str(metric.samples[0].labels["release"])
    raise AssertionError("no lantern_build_info")


def _nested(line: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        line = line[part]
    return line


@pytest.mark.django_db
def test_the_same_release_everywhere(
    sentry: Any, sentry_endpoint: SentryEndpoint, deployed: None, client: Client, logs: Any
) -> None:
    """``deployed`` after ``sentry``, whose own SENTRY_RELEASE it removes."""
    import sentry_sdk

    status = client.get("/statusz").json()
    assert status["release"] == RELEASE

    access = logs.access()[-1]
    logging.getLogger("shop.orders").error("payment failed")
    error = next(r for r in logs.records if r.name == "shop.orders")
    for record in (access, error):
        assert json.loads(JsonFormatter().format(record))["release"] == RELEASE
        assert _nested(json.loads(EcsFormatter().format(record)), "service.version") == RELEASE
        assert _nested(json.loads(DatadogFormatter().format(record)), "dd.version") == RELEASE
        assert json.loads(GcpFormatter().format(record))["serviceContext"] == {"version": RELEASE}

    assert _build_info_release() == RELEASE

    assert sentry()
    sentry_sdk.capture_message("deployed")
    flush_sentry()
    assert [event["release"] for event in sentry_endpoint.events()] == [RELEASE]

    provider = tracing.configure(set_global=False)
    try:
        assert provider.resource.attributes["service.version"] == RELEASE
    finally:
        tracing.disable()
        provider.shutdown()


def test_the_users_otel_service_version_wins_on_the_resource(deployed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit ``service.version`` in OTEL_RESOURCE_ATTRIBUTES is theirs to set (docs/status.md)."""
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.version=2.0.0,deployment.environment=prod")
    provider = tracing.configure(set_global=False)
    try:
        assert provider.resource.attributes["service.version"] == "2.0.0"
    finally:
        tracing.disable()
        provider.shutdown()


def test_nothing_known_leaves_every_sink_its_own_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """No release: JSON ``null``, ECS leaves the field out, Datadog writes "" as ddtrace does, GCP no serviceContext,
    the build info label ``unknown``, and the resource no service.version."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    record = logging.LogRecord("shop", logging.ERROR, __file__, 1, "boom", None, None)
    assert json.loads(JsonFormatter().format(record))["release"] is None
    assert "service" not in json.loads(EcsFormatter().format(record))
    assert json.loads(DatadogFormatter().format(record))["dd"]["version"] == ""
    assert "serviceContext" not in json.loads(GcpFormatter().format(record))
    families.get_families.cache_clear()
    assert _build_info_release() == "unknown"
    provider = tracing.configure(set_global=False)
    try:
        assert "service.version" not in provider.resource.attributes
    finally:
        tracing.disable()
        provider.shutdown()


def test_json_lines_below_error_stay_lean(deployed: None) -> None:
    """The default schema carries ``release`` on access lines and at ERROR and above only."""
    record = logging.LogRecord("shop", logging.WARNING, __file__, 1, "slow", None, None)
    assert "release" not in json.loads(JsonFormatter().format(record))
    assert _nested(json.loads(EcsFormatter().format(record)), "service.version") == RELEASE


def test_a_sentry_release_that_disagrees_is_reported(sentry: Any) -> None:
    """lantern.W014 when init() ran before LANTERN["RELEASE"] could be read; never for a release passed to it."""
    from django.test import override_settings

    from django_lantern.checks import check_sentry_release

    assert sentry()  # the fixture's SENTRY_RELEASE, as the resolved release then was
    assert check_sentry_release() == []
    with override_settings(LANTERN={"RELEASE": "9.9"}):
        (message,) = check_sentry_release()
        assert message.id == "lantern.W014" and "'lantern@test'" in message.msg and "'9.9'" in message.msg
        assert sentry(release="mine")
        assert check_sentry_release() == []
