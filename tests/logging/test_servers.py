"""Server loggers routed to our handler: gunicorn's and uvicorn's lines in our schema, their access logs off."""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from django_lantern.logging import JsonFormatter, TextFormatter, build_logging_config
from django_lantern.logging.servers import (
    RUNSERVER_REQUEST_FORMAT,
    SkipRunserverRequestLines,
    gunicorn_logconfig_dict,
    master_text_lines,
    uvicorn_log_config,
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _written(logger: str) -> None:
    """Wait for the default handler's writer thread to write what ``logger`` queued."""
    for handler in logging.getLogger(logger).handlers:
        handler.flush()


def test_gunicorn_logger_writes_our_schema_and_its_access_log_is_off(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through gunicorn's own Logger with our logconfig_dict: error lines are ECS JSON, access lines are gone."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    cfg = Config()
    cfg.set("logconfig_dict", gunicorn_logconfig_dict(log_format="ecs"))
    cfg.set("accesslog", "-")  # even when asked for, gunicorn's access log stays off: ours is the one line
    log = Logger(cfg)
    log.info("Booting worker with pid: %s", 4242)
    log.error("Worker (pid:%s) was sent SIGKILL!", 4243)
    log.access_log.info('127.0.0.1 - - "GET / HTTP/1.1" 200 2')
    _written("gunicorn.error")
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert captured.err == ""
    assert [line["message"] for line in lines] == [
        "Booting worker with pid: 4242",
        "Worker (pid:4243) was sent SIGKILL!",
    ]
    assert all(line["log"]["logger"] == "gunicorn.error" and "ecs.version" in line for line in lines)


def test_uvicorn_loggers_write_our_schema_and_access_is_off(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn's loggers go to our handler; uvicorn.access writes nothing."""
    logging.config.dictConfig(uvicorn_log_config(log_format="datadog"))
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/", "1.1", 200)
    _written("uvicorn")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1
    assert lines[0]["message"] == "Started server process [7]" and lines[0]["logger"]["name"] == "uvicorn.error"


def test_server_loggers_can_be_left_alone() -> None:
    """server_loggers=False leaves the servers' loggers out of the config."""
    loggers = build_logging_config(server_loggers=False)["loggers"]
    assert not {"gunicorn.error", "gunicorn.access", "uvicorn", "uvicorn.access"} & set(loggers)
    assert "filters" not in loggers["django.server"]


def test_runserver_filter_drops_only_the_request_line() -> None:
    """The per-request django.server line is dropped; its other messages are kept."""
    keep = SkipRunserverRequestLines()
    request_line = logging.LogRecord(
        "django.server", logging.INFO, "", 0, RUNSERVER_REQUEST_FORMAT, ("GET / HTTP/1.1", "200", "5"), None
    )
    other = logging.LogRecord(
        "django.server", logging.ERROR, "", 0, "You're accessing the development server over HTTPS", (), None
    )
    assert keep.filter(request_line) is False
    assert keep.filter(other) is True


@pytest.mark.parametrize(
    ("server", "logger", "flag"),
    [("gunicorn", "gunicorn.error", "--log-config-json"), ("uvicorn", "uvicorn", "--log-config")],
)
def test_a_json_app_under_a_text_master_is_told_the_one_flag(
    server: str, logger: str, flag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warning names the flag and the command that prints the file; a text app gets none."""
    handler = logging.StreamHandler()
    monkeypatch.setattr(logging.getLogger(logger), "handlers", [handler])
    handler.setFormatter(TextFormatter())
    assert master_text_lines(server) is None
    handler.setFormatter(JsonFormatter())
    warning = master_text_lines(server)
    assert warning is not None
    assert f'{flag} "$(python -m django_lantern.logging.servers {server}-config)"' in warning
