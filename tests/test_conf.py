"""LANTERN settings: defaults, validation messages, caching and invalidation."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_lantern import conf


def test_defaults() -> None:
    """With no LANTERN setting the documented defaults apply."""
    built, errors = conf.build_settings(None)
    assert errors == []
    assert built.request_id_header == "X-Request-Id"
    assert built.request_id_meta_key == "HTTP_X_REQUEST_ID"
    assert built.trust_request_id_header is True
    assert built.access_logger == "access"
    assert built.readiness_timeout == 0.5
    assert built.healthz_paths == frozenset({"/healthz", "/healthz/"})
    assert built.readyz_paths == frozenset({"/readyz", "/readyz/"})
    assert built.probe_paths >= built.healthz_paths | built.readyz_paths


def test_every_default_key_is_accepted_as_is() -> None:
    """Passing every default back explicitly is valid."""
    assert conf.build_settings(dict(conf.DEFAULTS))[1] == []


def test_header_name_derives_the_meta_key() -> None:
    """A custom header name maps to its WSGI META key and its response header store key."""
    built, _ = conf.build_settings({"REQUEST_ID_HEADER": "X-Correlation-Id"})
    assert built.request_id_meta_key == "HTTP_X_CORRELATION_ID"
    assert built.request_id_header_key == "x-correlation-id"  # as Django's header store keys it


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("REQUEST_ID_HEADER", "X Request Id", "an HTTP header name"),
        ("TRUST_REQUEST_ID_HEADER", "yes", "True or False"),
        ("ACCESS_LOG_SKIP_PATHS", "^/healthz", "a list of regular expressions"),
        ("ACCESS_LOG_SKIP_PATHS", ["(unclosed"], "a valid regular expression"),
        ("ACCESS_LOG_SAMPLE_PATHS", {"^/x": 2}, "rate between 0 and 1"),
        ("SLOW_REQUEST_MS", -1, "a number >= 0"),
        ("READINESS_TIMEOUT", "fast", "a number >= 0.001"),
        ("READINESS_TIMEOUT", 0, "a number >= 0.001"),
        ("READINESS_DATABASES", "default", '"__all__" or a list of aliases'),
        ("READINESS_CHECKS", "a.b", "a list of strings"),
        ("HEALTHZ_PATH", "healthz", "an absolute path"),
        ("METRICS_LATENCY_BUCKETS", [1, 0.5], "a sorted, non-empty list"),
        ("METRICS_NAMING", "OpenTelemetry", "one of 'lantern', 'otel', 'both'"),
        ("LOG_FIELD_MAX_LENGTH", 10, "a whole number >= 64"),
        ("ACCESS_LOGGER", "", "a non-empty string"),
        ("N_PLUS_ONE", "warn", "one of 'log', 'raise', None"),
        ("N_PLUS_ONE", True, "one of 'log', 'raise', None"),
        ("N_PLUS_ONE_THRESHOLD", 1, "a whole number >= 2"),
        ("SLOW_QUERY_MS", "slow", "a number >= 0 or None"),
    ],
)
def test_bad_value_names_key_value_and_fix(key: str, value: Any, fix: str) -> None:
    """Each bad value gives a message naming the key, the value received and what it must be."""
    _, errors = conf.build_settings({key: value})
    assert len(errors) == 1
    assert f"LANTERN[{key!r}]" in errors[0]
    assert repr(value) in errors[0] or repr(next(iter(value))) in errors[0]
    assert fix in errors[0]


def test_unknown_key_is_reported() -> None:
    """A misspelt key is reported, not silently ignored."""
    _, errors = conf.build_settings({"READYNESS_TIMEOUT": 1})
    assert errors == ["LANTERN['READYNESS_TIMEOUT'] is not a django-lantern setting; did you mean 'READINESS_TIMEOUT'?"]


def test_not_a_dict_is_reported() -> None:
    """LANTERN must be a dict."""
    _, errors = conf.build_settings(["nope"])  # type: ignore[arg-type]
    assert errors == ["LANTERN is ['nope']; it must be a dict."]


def test_probe_paths_must_differ() -> None:
    """Two probes on the same path are refused."""
    _, errors = conf.build_settings({"HEALTHZ_PATH": "/probe", "READYZ_PATH": "/probe/"})
    assert any("must differ" in e for e in errors)


@override_settings(LANTERN={"READINESS_TIMEOUT": "fast"})
def test_get_settings_raises_improperly_configured() -> None:
    """get_settings() raises ImproperlyConfigured with the key, the value and the fix."""
    with pytest.raises(ImproperlyConfigured) as info:
        conf.get_settings()
    assert str(info.value) == (
        "(lantern.E002) Invalid LANTERN setting: LANTERN['READINESS_TIMEOUT'] is 'fast'; it must be a number "
        f">= 0.001. Every key, its type and its default: {conf.DOCS_URL}configuration/"
    )


def test_get_settings_is_cached_and_cleared_on_change() -> None:
    """The settings are cached, and override_settings(LANTERN=...) clears the cache both ways."""
    first = conf.get_settings()
    assert conf.get_settings() is first
    with override_settings(LANTERN={"ACCESS_LOGGER": "web"}):
        assert conf.get_settings().access_logger == "web"
    assert conf.get_settings().access_logger == "access"


def test_none_paths_turn_probes_off() -> None:
    """A probe path of None turns the middleware's probe off."""
    built, errors = conf.build_settings(
        {"HEALTHZ_PATH": None, "METRICS_PATH": None, "STATUS_PATH": None, "THREADS_PATH": None}
    )
    assert errors == [] and built.healthz_paths == frozenset()
    assert built.probe_paths == frozenset({"/readyz", "/readyz/"})
