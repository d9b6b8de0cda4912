"""A command that runs a known number of queries (``tests/jobs/costly.py``), as a nightly job would."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tests.jobs.costly import run_measured


class Command(BaseCommand):
    help = "Run N queries and log their reference cost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queries", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        run_measured(options["queries"])
