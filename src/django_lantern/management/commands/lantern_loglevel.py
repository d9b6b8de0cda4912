"""``manage.py lantern_loglevel LOGGER LEVEL [--for 15m]``: a logger's level in every running process, for a while.

``--reset`` ends an override (``lantern_loglevel LOGGER --reset``) or all of
them (``lantern_loglevel --reset``); with no arguments the command lists the
overrides in force. Every server worker and Celery child of the app applies a
change within about a second and reverts by itself when its time is up; the
change goes through the shared cache, else ``PROMETHEUS_MULTIPROC_DIR`` (one
host), see docs/logging.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_lantern.logging._levels import (
    DEFAULT_SECONDS,
    LevelChangeError,
    command_actor,
    current_overrides,
    level_name,
    parse_duration,
    reset,
    set_level,
)
from django_lantern.logging._levels_store import resolve_store
from django_lantern.logging._record_parts import rfc3339


class Command(BaseCommand):
    help = "Change a logger's level in every running process of the app for a while (default 15m, at most 24h)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("logger", nargs="?", help="the logger's name (root for the root logger)")
        parser.add_argument("level", nargs="?", help="DEBUG, INFO, WARNING, ERROR, CRITICAL or a number 1-50")
        parser.add_argument("--for", dest="duration", default=None, metavar="DURATION", help="30s, 15m, 2h (max 24h)")
        parser.add_argument("--reset", action="store_true", help="end the override of LOGGER, or of every logger")
        parser.add_argument(
            "--force", action="store_true", help="allow an unknown logger name, or silencing the access log"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options["logger"], options["level"], options["duration"], options["reset"], options["force"])
        except LevelChangeError as exc:
            raise CommandError(str(exc)) from None

    def _handle(self, name: str | None, level: str | None, duration: str | None, resetting: bool, force: bool) -> None:
        if resetting:
            if level is not None or duration is not None:
                raise CommandError("--reset takes only an optional LOGGER: lantern_loglevel [LOGGER] --reset")
            ended = reset(name, actor=command_actor())
            self.stdout.write(f"reset {', '.join(ended)}" if ended else "no level overrides were in force")
            return
        if name is None:
            self._list()
            return
        if level is None:
            raise CommandError(f"a LEVEL is needed: lantern_loglevel {name} DEBUG --for 15m (or --reset)")
        seconds = parse_duration(duration) if duration is not None else DEFAULT_SECONDS
        store = resolve_store()
        override = set_level(name, level, seconds=seconds, actor=command_actor(), force=force, store=store)
        where = store.description if store is not None else "?"
        self.stdout.write(
            f"{override.logger} is {level_name(override.level)} until {rfc3339(override.expires_at)} "
            f"in every process reading {where} (applied within about 1 s)"
        )

    def _list(self) -> None:
        overrides = current_overrides()
        if not overrides:
            self.stdout.write("no level overrides in force")
        for o in overrides:
            self.stdout.write(f"{o.logger} {level_name(o.level)} until {rfc3339(o.expires_at)} (set by {o.set_by})")
