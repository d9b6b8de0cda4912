"""Without Sentry, an unhandled exception is logged once, as a structured
record with the request's context; and the formatters' hardening."""

from __future__ import annotations

import json
import logging
import math
import sys
from typing import Any

import pytest
from django.test import AsyncClient, Client

from django_lantern import sentry as lantern_sentry
from django_lantern.logging import JsonFormatter, TextFormatter

pytestmark = pytest.mark.urls("tests.urls_errors")


def test_unhandled_exception_is_logged_once_with_context(logs: Any, client: Client) -> None:
    """One django.request ERROR line: request id, method, path, route, exception, scrubbed stack."""
    assert lantern_sentry.state.enabled is False
    client.raise_request_exception = False
    response = client.get("/errors/fail/?token=q-secret-1")
    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    errors = [line for line in logs.parsed() if line["logger"] == "django.request"]
    assert len(errors) == 1
    (line,) = errors
    assert line["level"] == "error"
    assert line["request_id"] == request_id
    assert (line["method"], line["path"], line["route"]) == ("GET", "/errors/fail/", "/errors/fail/")
    assert line["exc_type"] == "RuntimeError"
    assert line["exc_message"] == "failed with password=[redacted]"
    assert "tests/urls_errors.py" in line["stack"] and "hunter2-secret" not in line["stack"]
    assert "q-secret-1" not in "\n".join(logs.json_lines + logs.text_lines)
    (access,) = [line for line in logs.parsed() if line["logger"] == "access"]
    assert access["status"] == 500 and access["request_id"] == request_id


async def test_async_unhandled_exception_is_logged_once_with_context(logs: Any, async_client: AsyncClient) -> None:
    """The same under ASGI."""
    async_client.raise_request_exception = False
    response = await async_client.get("/errors/afail/")
    assert response.status_code == 500
    errors = [line for line in logs.parsed() if line["logger"] == "django.request"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == response.headers["X-Request-Id"]
    assert errors[0]["route"] == "/errors/afail/" and errors[0]["exc_type"] == "RuntimeError"


def test_secrets_in_the_path_are_scrubbed_in_every_field(logs: Any, client: Client) -> None:
    """A token in the path: gone from the message, the ``path`` field and the access line."""
    client.get("/reset/token=AKIAIOSFODNN7EXAMPLE/")
    assert "AKIAIOSFODNN7EXAMPLE" not in "\n".join(logs.json_lines + logs.text_lines)


def _record(msg: str, args: Any = (), **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("tests.fmt", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_unformattable_message_yields_a_line_without_the_arguments() -> None:
    """Arguments that do not fit the template are never printed; the line says so."""
    record = _record("user %d logged in", ("raw-arg-value-1",))
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        assert "raw-arg-value-1" not in line
        assert "could not be formatted" in line


def test_unserialisable_extras_still_give_valid_json() -> None:
    """Objects, NaN, infinities, 100-bit ints, lone surrogates: one valid JSON line."""

    class Boom:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    line = JsonFormatter().format(
        _record("x", obj=object(), boom=Boom(), nan=math.nan, inf=-math.inf, big=2**100, sur="a\ud800b", raw=b"\xff")
    )
    parsed = json.loads(line)
    assert parsed["nan"] == "nan" and parsed["inf"] == "-inf" and parsed["big"] == str(2**100)
    assert parsed["boom"] == "<unrepresentable Boom>"
    assert "\n" not in line


def test_fields_are_capped_with_a_visible_marker() -> None:
    """A long message or extra is cut at the field limit and says how much went."""
    line = json.loads(JsonFormatter(field_limit=100).format(_record("m" * 500, blob="b" * 500)))
    assert line["message"] == "m" * 100 + "...[lantern: 400 chars cut]"
    assert line["blob"] == "b" * 100 + "...[lantern: 400 chars cut]"


def test_stack_info_is_scrubbed() -> None:
    record = _record("with stack")
    record.stack_info = 'Stack (most recent call last):\n  api_key = "k-123456789"'
    line = json.loads(JsonFormatter().format(record))
    assert "k-123456789" not in line["stack_info"]


def test_a_failing_scrubber_drops_the_extras_not_the_line(settings: Any, internal_errors: dict[str, int]) -> None:
    """If scrubbing an extra fails, its value becomes a marker (never sent unscrubbed) and the failure is counted."""
    settings.LANTERN = {**settings.LANTERN, "SCRUBBER_CLASS": "tests.sentry.test_sentry.BrokenScrubber"}
    text = JsonFormatter().format(_record("ok", password="p-should-not-appear"))
    line = json.loads(text)
    assert line["password"] == "<unrenderable str>" and "p-should-not-appear" not in text
    assert line["message"] == "ok"
    assert internal_errors["scrub:log"] == 1


def test_formatting_never_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """A broken record through a real StreamHandler: no 'Logging error' dump of the arguments."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.errors.stderr")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("%s %s", "only-one-arg-secret")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    out, err = capsys.readouterr()
    assert err == ""
    assert "only-one-arg-secret" not in out and json.loads(out)["level"] == "error"
