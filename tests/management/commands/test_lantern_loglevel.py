"""``manage.py lantern_loglevel``: its errors, its output, its one audit line (a file store in a temporary
directory stands in for the server's shared state)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_lantern.logging import _levels_store
from django_lantern.logging._levels_store import FileStore
from tests.conftest import LogCapture

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "loglevel-command"}}
NAME = "tests.command.subject"


@pytest.fixture
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The local-memory cache and ``PROMETHEUS_MULTIPROC_DIR``: the file store."""
    monkeypatch.setenv(_levels_store.MULTIPROC_ENV, str(tmp_path))
    logging.getLogger(NAME).setLevel(logging.INFO)
    with override_settings(CACHES=LOCMEM):
        yield tmp_path
    logging.getLogger(NAME).setLevel(logging.NOTSET)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("lantern_loglevel", *args, stdout=out)
    return out.getvalue()


def test_set_prints_the_change_and_writes_one_audit_line(directory: Path, logs: LogCapture) -> None:
    output = run(NAME, "debug", "--for", "5m")
    assert output.startswith(f"{NAME} is DEBUG until ")
    assert "processes on this host only" in output
    (record,) = FileStore(str(directory)).read().overrides.values()  # type: ignore[union-attr]
    assert (record.logger, record.level, round(record.expires_at - record.set_at)) == (NAME, 10, 300)
    (audit,) = logs.by_logger("lantern.audit")
    assert audit["actor"] == record.set_by and "@" in audit["actor"]
    assert (audit["target_logger"], audit["new_level"], audit["previous_level"]) == (NAME, "DEBUG", "INFO")
    assert run().startswith(f"{NAME} DEBUG until ")  # no arguments: the list


def test_the_default_duration_is_fifteen_minutes(directory: Path) -> None:
    run(NAME, "WARNING")
    (record,) = FileStore(str(directory)).read().overrides.values()  # type: ignore[union-attr]
    assert round(record.expires_at - record.set_at) == 900


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((NAME, "LOUD"), "level 'LOUD' is not a log level"),
        ((NAME, "DEBUG", "--for", "2d"), "duration '2d' is not a duration"),
        ((NAME, "DEBUG", "--for", "48h"), "duration '48h' is out of range"),
        (("tests.command.subjetc", "DEBUG"), "no logger named 'tests.command.subjetc' is known to this process"),
        (("access", "WARNING"), "would silence the access log ('access' writes one INFO line per request)"),
        ((NAME,), f"a LEVEL is needed: lantern_loglevel {NAME} DEBUG --for 15m"),
        ((NAME, "DEBUG", "--reset"), "--reset takes only an optional LOGGER"),
        ((NAME, "--reset"), f"logger '{NAME}' has no level override to reset"),
    ],
)
def test_errors_name_the_value_and_the_fix(directory: Path, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert FileStore(str(directory)).read() is None  # nothing written


def test_force_allows_an_unknown_name_and_a_quiet_access_log(directory: Path) -> None:
    saved = logging.getLogger("access").level
    run("never.created.anywhere", "DEBUG", "--force")
    run("access", "ERROR", "--force")
    assert {o.logger for o in FileStore(str(directory)).read().overrides.values()} == {  # type: ignore[union-attr]
        "never.created.anywhere",
        "access",
    }
    assert logging.getLogger("access").level == saved  # the command changes the record, not its own process


def test_reset_ends_every_override(directory: Path, logs: LogCapture) -> None:
    run(NAME, "DEBUG")
    run("tests.command", "DEBUG")
    assert run("--reset") == f"reset {NAME}, tests.command\n"
    assert run() == "no level overrides in force\n"
    assert [a["audit_action"] for a in logs.by_logger("lantern.audit")] == ["loglevel.set"] * 2 + ["loglevel.reset"] * 2


def test_without_shared_state_the_command_says_what_to_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_levels_store.MULTIPROC_ENV, raising=False)
    with override_settings(CACHES=LOCMEM), pytest.raises(CommandError) as caught:
        run(NAME, "DEBUG")
    message = str(caught.value)
    assert "cannot reach the server processes" in message
    assert "CACHES['default']" in message and "PROMETHEUS_MULTIPROC_DIR" in message
