"""A command that runs one statement ten times (an N+1), for the query-insights tests."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tests.jobs.repeat import repeat_query


class Command(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        repeat_query(10)
