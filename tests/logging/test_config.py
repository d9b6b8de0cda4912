"""build_logging_config(): levels and formats from the environment, a working dictConfig."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_lantern.logging import build_logging_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_LOG_LEVEL", raising=False)
    monkeypatch.delenv("LANTERN_LOG_FORMAT", raising=False)


def test_defaults() -> None:
    """With no environment: level INFO, json format, the filter on the console handler."""
    config = build_logging_config()
    assert config["root"]["level"] == "INFO"
    console = config["handlers"]["console"]
    assert console["formatter"] == "json"
    assert console["filters"] == ["skip_healthy_probes", "request_context", "repeated_errors"]
    assert config["filters"]["request_context"]["()"] == "django_lantern.logging.RequestContextFilter"
    assert config["disable_existing_loggers"] is False


def test_debug_defaults_to_text() -> None:
    """Under debug=True the default format is text."""
    assert build_logging_config(debug=True)["handlers"]["console"]["formatter"] == "text"


@pytest.mark.parametrize(("value", "expected"), [("debug", "DEBUG"), ("WARNING", "WARNING"), (" error ", "ERROR")])
def test_level_from_django_log_level(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    """DJANGO_LOG_LEVEL sets the root and django levels, case-insensitively."""
    monkeypatch.setenv("DJANGO_LOG_LEVEL", value)
    config = build_logging_config()
    assert config["root"]["level"] == expected
    assert config["loggers"]["django"]["level"] == expected


@pytest.mark.parametrize(("debug", "value", "expected"), [(True, "json", "json"), (False, "text", "text")])
def test_format_from_lantern_log_format(
    monkeypatch: pytest.MonkeyPatch, debug: bool, value: str, expected: str
) -> None:
    """LANTERN_LOG_FORMAT overrides the debug-based default either way."""
    monkeypatch.setenv("LANTERN_LOG_FORMAT", value)
    assert build_logging_config(debug=debug)["handlers"]["console"]["formatter"] == expected


def test_bad_level_names_the_variable_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad DJANGO_LOG_LEVEL raises ImproperlyConfigured naming the variable, the value and the choices."""
    monkeypatch.setenv("DJANGO_LOG_LEVEL", "LOUD")
    with pytest.raises(ImproperlyConfigured) as info:
        build_logging_config()
    message = str(info.value)
    assert "DJANGO_LOG_LEVEL" in message and "'LOUD'" in message and "INFO" in message


def test_bad_format_names_the_variable_and_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad LANTERN_LOG_FORMAT raises ImproperlyConfigured naming the variable, the value and the choices."""
    monkeypatch.setenv("LANTERN_LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured) as info:
        build_logging_config()
    message = str(info.value)
    assert "LANTERN_LOG_FORMAT" in message and "'xml'" in message and "json" in message and "text" in message


def test_access_logger_does_not_propagate() -> None:
    """The access logger has its own handler and propagate off, so each access line appears once."""
    config = build_logging_config(access_logger="web.access")
    access = config["loggers"]["web.access"]
    assert access == {"handlers": ["console"], "level": "INFO", "propagate": False}


def _written() -> None:
    """Wait for the default handler's writer thread to write what is queued."""
    for handler in logging.getLogger().handlers:
        handler.flush()


@pytest.mark.usefixtures("logging_state")
def test_dict_config_works_and_writes_one_line_per_record() -> None:
    """dictConfig accepts the result; records become JSON lines with context, access lines appear once."""
    stream = io.StringIO()
    config = build_logging_config(log_format="json")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    logging.getLogger("tests.config").info("configured %s", "ok")
    logging.getLogger("access").info("method=GET path=/ status=200 duration_ms=1.00 user_id=None")
    _written()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "configured ok" and first["request_id"] == "-"
    assert second["logger"] == "access"


@pytest.mark.usefixtures("logging_state")
def test_dict_config_text_format() -> None:
    """The text variant configures too and renders key=value lines."""
    stream = io.StringIO()
    config = build_logging_config(log_format="text")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    logging.getLogger("tests.config").warning("careful")
    _written()
    (line,) = stream.getvalue().splitlines()
    assert " WARNING tests.config request_id=- " in line and line.endswith("msg=careful")


def test_default_handler_never_blocks_and_zero_is_the_way_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console handler is the bounded-queue handler by default; LANTERN_LOG_NONBLOCKING=0 (or
    nonblocking=False) writes in the caller's thread with the failure-counting stream handler."""
    queued = "django_lantern.logging.handlers.NonBlockingStreamHandler"
    writing = "django_lantern.logging.handlers.SafeStreamHandler"
    monkeypatch.delenv("LANTERN_LOG_NONBLOCKING", raising=False)
    assert build_logging_config()["handlers"]["console"]["class"] == queued
    assert build_logging_config(nonblocking=False)["handlers"]["console"]["class"] == writing
    monkeypatch.setenv("LANTERN_LOG_NONBLOCKING", "0")
    assert build_logging_config()["handlers"]["console"]["class"] == writing
    assert build_logging_config(nonblocking=True)["handlers"]["console"]["class"] == queued


@pytest.mark.usefixtures("logging_state")
def test_nonblocking_by_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """nonblocking=True or LANTERN_LOG_NONBLOCKING=1 selects the bounded-queue handler; a bad value is refused."""
    queued = "django_lantern.logging.handlers.NonBlockingStreamHandler"
    assert build_logging_config(nonblocking=True)["handlers"]["console"]["class"] == queued
    monkeypatch.setenv("LANTERN_LOG_NONBLOCKING", "1")
    config = build_logging_config(log_format="json")
    assert config["handlers"]["console"]["class"] == queued
    stream = io.StringIO()
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    logging.getLogger("tests.config").warning("queued line")
    _written()
    assert json.loads(stream.getvalue().splitlines()[0])["message"] == "queued line"
    monkeypatch.setenv("LANTERN_LOG_NONBLOCKING", "yes")
    with pytest.raises(ImproperlyConfigured, match="LANTERN_LOG_NONBLOCKING"):
        build_logging_config()
