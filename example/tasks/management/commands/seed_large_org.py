"""Create "Initech (large)", an org with enough tasks that its CSV export runs
as a background job (``make run`` calls it after ``seed_demo``).

Idempotent: it tops the org up to ``--tasks`` tasks and changes nothing else.
The demo user is a member, so the export can be tried after logging in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tasks.models import Membership, Org, Task

SLUG = "initech"
NAME = "Initech (large)"
STATUSES = [Task.Status.TODO, Task.Status.DOING, Task.Status.DONE]


class Command(BaseCommand):
    help = "Create a large demo org (thousands of tasks) for the background CSV export."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tasks", type=int, default=2000, help="Tasks the org should have (default 2000).")
        parser.add_argument("--user", default="demo", help="The member who creates them (default: demo).")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["tasks"]
        if not 0 <= wanted <= 100_000:
            raise CommandError("--tasks must be between 0 and 100000.")
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: options["user"]}).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}: run seed_demo first.")
        org, _ = Org.objects.get_or_create(slug=SLUG, defaults={"name": NAME})
        Membership.objects.get_or_create(user=user, org=org, defaults={"role": Membership.Role.MEMBER})
        have = Task.objects.filter(org=org).count()
        Task.objects.bulk_create(
            [
                Task(org=org, title=f"Generated task {n}", status=STATUSES[n % 3], created_by=user)
                for n in range(have + 1, wanted + 1)
            ],
            batch_size=500,
        )
        self.stdout.write(f"{NAME}: {max(wanted, have)} tasks ({max(wanted - have, 0)} created)")
