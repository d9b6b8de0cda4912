"""``manage.py lantern_check``: the readiness checks, for a Docker HEALTHCHECK.

Prints the ``/readyz`` body as JSON and exits 0 when ready, 1 when not; like
``/readyz``, a non-critical check's failure does not count, and
``--exclude <check>`` (repeatable) leaves checks out.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_lantern.health._registry import get_runner
from django_lantern.health._views import readiness_body


class Command(BaseCommand):
    help = "Run django-lantern's readiness checks; exit 1 when not ready (for Docker HEALTHCHECK)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--exclude", action="append", default=[], metavar="CHECK", help="leave this check out")

    def handle(self, *args: Any, **options: Any) -> None:
        runner = get_runner()
        excluded = set(options["exclude"])
        names = [c.name for c in runner.checks if c.name not in excluded]
        non_critical = {c.name for c in runner.checks if not c.critical}
        body, status = readiness_body(runner.run(names), non_critical)
        self.stdout.write(json.dumps(body, sort_keys=True))
        if status != 200:
            raise CommandError("not ready", returncode=1)
