"""``manage.py lantern_check``: the readiness checks, for a Docker HEALTHCHECK.

Prints the ``/readyz`` body as JSON and exits 0 when ready, 1 when not.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_lantern.health.registry import get_runner
from django_lantern.health.views import readiness_body


class Command(BaseCommand):
    help = "Run django-lantern's readiness checks; exit 1 when not ready (for Docker HEALTHCHECK)."
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        body, status = readiness_body(get_runner().run())
        self.stdout.write(json.dumps(body, sort_keys=True))
        if status != 200:
            raise CommandError("not ready", returncode=1)
