"""A command that logs from handle(), from a propagated thread and from a bare one."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_lantern import propagate

logger = logging.getLogger("tests.jobs")


class Command(BaseCommand):
    help = "Log a few lines, as a cron job would."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fail", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        logger.info("job started")
        carried = threading.Thread(target=propagate(logger.info), args=("from a propagated thread",))
        bare = threading.Thread(target=logger.info, args=("from a bare thread",))
        for thread in (carried, bare):
            thread.start()
            thread.join()
        if options["fail"]:
            logger.error("job failing")
            raise CommandError("demo failure")
        logger.info("job done")
