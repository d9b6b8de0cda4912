"""What a task run or a command cost, on its line: Celery, django.tasks and management commands.

Each runs exactly 0, 1 or 25 queries through ``tests/jobs/costly.run_measured``,
which logs the reference (the query wrapper's own clock reads while they
ran); the ``lantern.task`` line that ends the run must say the same
``db_queries`` and ``db_ms`` (to 0.01 ms) in all five formats. In-process
here; on real workers (a ``celery worker``, a ``db_worker``) in
``tests/server/test_cost_workers.py``; a command here as a real process too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from django_lantern import _errors as errors
from django_lantern import bind
from django_lantern.context import current
from tests.conftest import LogCapture
from tests.jobs import djtasks_jobs
from tests.jobs.management.commands.lantern_cost_job import Command as CostJob
from tests.test_request_cost import FORMATS, cost_of

ROOT = Path(__file__).resolve().parents[2]
COUNTS = (0, 1, 25)
FRAMEWORK = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"default": {"BACKEND": f"{FRAMEWORK}.backends.immediate.ImmediateBackend"}}


def reference(logs: LogCapture) -> tuple[int, float]:
    [record] = [r for r in logs.records if r.getMessage() == "queries measured"]
    return record.reference_queries, record.reference_ms  # type: ignore[attr-defined]


def assert_line_says(logs: LogCapture, n: int) -> None:
    """The run's one task line, in each of the five formats, says the reference's queries and time."""
    queries, spent_ms = reference(logs)
    assert queries == n
    [line] = [r for r in logs.records if r.name == "lantern.task"]
    for fmt, make in FORMATS.items():
        cost = cost_of(fmt, make().format(line))
        assert cost["db_queries"] == n, fmt
        assert cost["db_ms"] == pytest.approx(spent_ms, abs=0.01), fmt
        assert cost["db_duplicates"] == cost["cache_hits"] == cost["outbound_calls"] == 0, fmt
        assert cost["cpu_ms"] is not None and cost["cpu_ms"] >= 0, fmt
        assert cost["response_bytes"] is None, fmt  # a run has no response


@pytest.mark.django_db
@pytest.mark.parametrize("n", COUNTS)
def test_a_command_line_says_what_it_cost(n: int, logs: LogCapture) -> None:
    call_command(CostJob(), n)
    assert_line_says(logs, n)
    [line] = [r for r in logs.records if r.name == "lantern.task"]
    assert line.getMessage().startswith("command=lantern_cost_job outcome=success duration_ms=")
    assert line.command == "lantern_cost_job"  # type: ignore[attr-defined]


@pytest.mark.django_db
@pytest.mark.parametrize("n", COUNTS)
def test_a_celery_run_line_says_what_it_cost(n: int, logs: LogCapture) -> None:
    from celery import Celery

    from django_lantern import celery as lantern_celery
    from tests.jobs.costly import run_measured

    app = lantern_celery.instrument(Celery("cost"))
    task = app.task(name="cost.queries")(run_measured)
    task.apply((n,)).get()
    assert_line_says(logs, n)


@pytest.mark.django_db
@pytest.mark.parametrize("n", COUNTS)
def test_a_django_tasks_run_line_says_what_it_cost(n: int, logs: LogCapture) -> None:
    with override_settings(TASKS=IMMEDIATE):
        djtasks_jobs.queries.enqueue(n)
    assert_line_says(logs, n)


@pytest.mark.django_db
def test_a_run_inside_a_request_counts_apart_and_then_in_it(logs: LogCapture) -> None:
    """An eager run in a scope: its line says its own queries; the scope's count gets them when it ends."""
    with bind(job="outer"):
        outer = current.get()
        assert outer is not None
        with override_settings(TASKS=IMMEDIATE):
            djtasks_jobs.queries.enqueue(3)
        assert_line_says(logs, 3)
        assert outer.cost.db_queries == 3


def _command_lines(n: int, log_format: str) -> list[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.jobs.settings",
        "JOBS_LOG_FORMAT": log_format,
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "lantern_cost_job", str(n)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def _reference_of(log_format: str, line: str) -> tuple[int, float]:
    if log_format == "text":
        pairs = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        return int(pairs["reference_queries"]), float(pairs["reference_ms"])
    payload = json.loads(line)
    return payload["reference_queries"], payload["reference_ms"]


FIND: dict[str, Callable[[str], bool]] = {
    "reference": lambda line: "queries measured" in line,
    "command": lambda line: "command=lantern_cost_job outcome=success" in line,
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_real_command_run_says_what_it_cost(fmt: str) -> None:
    """``python -m django lantern_cost_job 25``, as cron runs it: its last line says the 25 queries."""
    lines = _command_lines(25, fmt)
    [measured] = [line for line in lines if FIND["reference"](line)]
    [ended] = [line for line in lines if FIND["command"](line)]
    queries, spent_ms = _reference_of(fmt, measured)
    cost = cost_of(fmt, ended)
    assert queries == cost["db_queries"] == 25
    assert cost["db_ms"] == pytest.approx(spent_ms, abs=0.01)


@pytest.mark.django_db
def test_the_line_written_at_the_end_never_breaks_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing line is an internal error, counted; the command's own outcome is untouched."""
    from django_lantern.jobs import _task_line

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no logger")

    monkeypatch.setattr(_task_line, "logfmt_value", broken)
    before = errors.counts.get("task_line", 0)
    call_command(CostJob(), 0)
    assert errors.counts.get("task_line", 0) == before + 1
