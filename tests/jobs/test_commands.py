"""Management commands run inside one bound context: one request id per run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import pytest
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings

from django_lantern import bind
from django_lantern.context import get_context
from django_lantern.jobs import _commands as commands
from tests.conftest import LogCapture
from tests.jobs.management.commands.lantern_demo_job import Command as DemoJob

ROOT = Path(__file__).resolve().parents[2]
HEX32 = re.compile(r"[0-9a-f]{32}")


def _run_command(*args: str, lantern: dict[str, Any] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run the demo job through ``python -m django`` (what manage.py runs); return its JSON lines."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.settings",
        "JOBS_LANTERN": json.dumps(lantern or {}),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "lantern_demo_job", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, [line for line in lines if line["logger"] == "tests.jobs"]


def _by_message(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["message"]: line for line in lines}


def test_a_real_command_run_has_one_id_on_all_its_lines() -> None:
    """Every line of one run (handle() and a propagated thread) carries one fresh id and command=..."""
    code, lines = _run_command()
    assert code == 0
    found = _by_message(lines)
    rid = found["job started"]["request_id"]
    assert HEX32.fullmatch(rid)
    assert found["job done"]["request_id"] == found["from a propagated thread"]["request_id"] == rid
    assert found["job started"]["command"] == "lantern_demo_job"
    # A thread started without propagate() has no context: "-", never the run's id.
    assert found["from a bare thread"]["request_id"] == "-"


def test_two_runs_have_two_ids_and_a_failing_run_keeps_its_id() -> None:
    """Each run gets its own id; a failing run's error line carries it too."""
    _, first = _run_command()
    code, failing = _run_command("--fail")
    assert code != 0
    failed = _by_message(failing)
    assert failed["job failing"]["request_id"] == failed["job started"]["request_id"]
    assert failed["job failing"]["request_id"] != _by_message(first)["job started"]["request_id"]


def test_the_id_can_be_turned_off() -> None:
    """``COMMAND_REQUEST_ID: False``: command lines log ``-`` as before."""
    code, lines = _run_command(lantern={"COMMAND_REQUEST_ID": False})
    assert code == 0
    assert {line["request_id"] for line in lines} == {"-"}


def test_call_command_in_process_binds_and_restores(logs: LogCapture) -> None:
    """``call_command`` binds a context for the run and leaves none behind."""
    call_command(DemoJob())
    ids = {line["request_id"] for line in logs.by_logger("tests.jobs") if line["message"] != "from a bare thread"}
    assert len(ids) == 1 and HEX32.fullmatch(ids.pop())
    assert get_context() is None


def test_a_command_inside_a_bind_keeps_the_outer_id(logs: LogCapture) -> None:
    """A command called from inside a bound context keeps that id and adds ``command``."""
    with bind(request_id="outer-job"):
        call_command(DemoJob())
    started = _by_message(logs.by_logger("tests.jobs"))["job started"]
    assert started["request_id"] == "outer-job" and started["command"] == "lantern_demo_job"


def test_skipped_commands_run_without_a_context(logs: LogCapture) -> None:
    """A command named in ``COMMAND_REQUEST_ID_SKIP`` (runserver by default) binds nothing."""
    with override_settings(LANTERN={"COMMAND_REQUEST_ID_SKIP": ["lantern_demo_job"]}):
        call_command(DemoJob())
    assert {line["request_id"] for line in logs.by_logger("tests.jobs")} == {"-"}


def test_runserver_is_skipped_by_default() -> None:
    """The default skip list keeps servers' lines free of a command id."""
    from django.core.management.commands.runserver import Command as Runserver

    assert commands.command_name(Runserver()) == "runserver"
    assert commands._wanted("runserver") is False
    assert commands._wanted("migrate") is True


def test_invalid_settings_never_stop_a_command(logs: LogCapture) -> None:
    """With an invalid LANTERN the command still runs (the system checks report the setting)."""

    class Quiet(BaseCommand):
        requires_system_checks: list[str] = []

        def handle(self, *args: Any, **options: Any) -> str:
            return "ran"

    with override_settings(LANTERN={"COMMAND_REQUEST_ID": "yes"}):
        assert call_command(Quiet()) == "ran"


def test_install_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installing twice wraps once, around Django's own execute, which still runs the command."""
    wrapped = BaseCommand.execute
    commands.install()
    assert BaseCommand.execute is wrapped
    monkeypatch.setattr(BaseCommand, "execute", wrapped.__wrapped__)  # type: ignore[attr-defined]
    with pytest.raises(CommandError):
        call_command(DemoJob(), "--fail")


def test_runserver_requests_get_their_own_ids() -> None:
    """Under a real ``runserver`` each request has its own id and no command field; the server's own lines have none."""
    import time

    import httpx

    from tests.helpers.servers import free_port

    port = free_port()
    # SLOW_PROBE_MS 0: the probes this test sends are written, healthy or not.
    lantern = '{"SLOW_PROBE_MS": 0}'
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.settings",
        "PYTHONPATH": str(ROOT),
        "JOBS_LANTERN": lantern,
    }
    with tempfile.TemporaryFile() as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            ids = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(ids) < 2:
                try:
                    ids.append(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).headers["X-Request-Id"])
                except httpx.HTTPError:
                    time.sleep(0.1)
            # The lines go out through the handler's writer thread: wait for the second
            # before stopping the server, or a loaded machine stops it first.
            while time.monotonic() < deadline and _file_text(out).count('"logger":"access"') < len(ids):
                time.sleep(0.05)
        finally:
            server.terminate()
            server.wait(timeout=10)
        out.seek(0)
        lines = [json.loads(line) for line in out.read().decode().splitlines() if line.startswith("{")]
    assert len(ids) == 2 and ids[0] != ids[1]
    access = [line for line in lines if line["logger"] == "access"]
    assert [line["request_id"] for line in access] == ids
    assert not any("command" in line for line in lines)


def _file_text(out: IO[bytes]) -> str:
    # ``pread``: the server shares the file's offset, which a seek would move under its writes.
    return os.pread(out.fileno(), 1 << 20, 0).decode(errors="replace")


def test_an_output_commands_stdout_stays_its_product() -> None:
    """``diffsettings`` (like ``dumpdata``) writes its product to stdout, where the logs go:
    no end-of-run line lands in it (``OUTPUT_COMMANDS``), while ``check`` ends with its cost line."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.settings",
        "JOBS_LANTERN": "{}",
        "PYTHONPATH": str(ROOT),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    dumped = run("diffsettings", "--output", "unified")
    assert dumped.returncode == 0, dumped.stderr
    assert "DJANGO_SETTINGS_MODULE" not in dumped.stdout and "+ LANTERN" in dumped.stdout
    assert not [line for line in dumped.stdout.splitlines() if line.startswith("{")]  # the settings, only
    assert "dumpdata" in commands.OUTPUT_COMMANDS and "check" not in commands.OUTPUT_COMMANDS
    checked = run("check")
    lines = [json.loads(line) for line in checked.stdout.splitlines() if line.startswith("{")]
    assert [line["command"] for line in lines if line["logger"] == "lantern.task"] == ["check"]
