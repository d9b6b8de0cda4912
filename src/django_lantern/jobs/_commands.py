"""One request id per management command run, so a cron job's lines belong together.

Django has no "command started" signal, so :func:`install` (called once from
``AppConfig.ready``) wraps ``BaseCommand.execute``: the system checks, the
``handle()`` method and everything they log run inside a ``bind()`` context
with a fresh id and ``command=<name>``. A command called from inside a request
or a bind (``call_command`` in a view or a job) keeps that id and adds the field.
Each run ends with one line on the task logger (``_task_line.record_command``):
its outcome, duration and what it cost.

``runserver`` and ``testserver`` are skipped by default (``COMMAND_REQUEST_ID_SKIP``):
they serve requests, which get their own ids, and one id on hours of server
lines would only mislead. ``COMMAND_REQUEST_ID = False`` turns it all off; both
are read on each run, so ``override_settings`` works.

Each run is also a query-insights scope (``metrics/_insights.py``): its N+1
WARNINGs are written when it ends, and ``N_PLUS_ONE = "raise"`` fails it.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from django.core.management.base import BaseCommand

from django_lantern.binding import enter_context
from django_lantern.conf import get_settings
from django_lantern.context import current
from django_lantern.jobs._task_line import FAILURE, SUCCESS, record_command
from django_lantern.metrics import _insights as query_insights

# Commands whose standard output is their product (a fixture, SQL, a shell's printout,
# settings): the end-of-run line would land in it, since logs go to stdout by default
# (``dumpdata > fixture.json``). They keep their id and counts; only that line is left out.
OUTPUT_COMMANDS = frozenset(
    {
        "dbshell",
        "diffsettings",
        "dumpdata",
        "inspectdb",
        "makemessages",
        "shell",
        "showmigrations",
        "sqlflush",
        "sqlmigrate",
        "sqlsequencereset",
    }
)


def command_name(command: BaseCommand) -> str:
    """``migrate`` for ``django.core.management.commands.migrate.Command``."""
    return type(command).__module__.rpartition(".")[2]


def _wanted(name: str) -> bool:
    try:
        cfg = get_settings()
    except Exception:
        # Invalid LANTERN settings: the system checks say so; the command itself must still run.
        return False
    return cfg.command_request_id and name not in cfg.command_request_id_skip


@functools.cache
def install() -> None:
    """Wrap ``BaseCommand.execute`` once per process (idempotent)."""
    original = BaseCommand.execute

    @functools.wraps(original)
    def execute(self: BaseCommand, *args: Any, **options: Any) -> Any:
        name = command_name(self)
        if not _wanted(name):
            return original(self, *args, **options)
        token = enter_context(None, {"command": name}, own_cost=True)
        scope = query_insights.begin()
        started = time.perf_counter()
        outcome = FAILURE
        try:
            result = original(self, *args, **options)
            query_insights.end(scope, fail=True)  # N_PLUS_ONE = "raise": the command fails
            outcome = SUCCESS
            return result
        finally:
            try:
                query_insights.end(scope)
                ctx = current.get()
                cost = ctx.cost if ctx is not None else None
                if name not in OUTPUT_COMMANDS:
                    record_command(name, outcome, duration=time.perf_counter() - started, cost=cost)
            finally:
                current.reset(token)

    BaseCommand.execute = execute  # type: ignore[method-assign]
