"""``manage.py seed_demo``: demo users, two orgs and their tasks, for ``make run``.

Idempotent: everything is looked up by a natural key first, so a second run
creates nothing and changes no password.

The demo accounts have published passwords, so the command refuses to run on
a site that others can reach: it runs when ``DEBUG`` is on, or when every
``ALLOWED_HOSTS`` entry is a loopback name (``make run`` serves the example
with ``DEBUG`` off, as in production, on 127.0.0.1 only), or with ``--force``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tasks.models import Membership, Org, Task

DEMO_USER = ("demo", "demo-password")
ADMIN_USER = ("admin", "admin-password")
TEAMMATE = "sam"

ORGS = [("Acme Robotics", "acme"), ("Globex Research", "globex")]

# Host names that only this machine can use to reach the site.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]", "testserver"})

# (org slug, title, status, assignee username or None)
TASKS = [
    ("acme", "Set up the staging database", Task.Status.DONE, "demo"),
    ("acme", "Add request ids to the access log", Task.Status.DONE, "demo"),
    ("acme", "Wire /readyz into the load balancer", Task.Status.DOING, "demo"),
    ("acme", "Alert on 5xx rate above 1%", Task.Status.TODO, TEAMMATE),
    ("acme", "Write the on-call runbook", Task.Status.TODO, None),
    ("acme", "Scrub tokens from error reports", Task.Status.DOING, TEAMMATE),
    ("globex", "Export quarterly task report", Task.Status.TODO, "demo"),
    ("globex", "Review slow query log", Task.Status.DOING, TEAMMATE),
    ("globex", "Rotate the Sentry DSN", Task.Status.DONE, None),
    ("globex", "Dashboard for p95 latency", Task.Status.TODO, "demo"),
]


class Command(BaseCommand):
    help = (
        "Create demo users, orgs and tasks (idempotent). Refuses on a reachable site "
        "(DEBUG off and a non-loopback ALLOWED_HOSTS entry) unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even on a reachable site. The demo accounts have published passwords: never on a real site.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        reachable = [host for host in settings.ALLOWED_HOSTS if host not in LOOPBACK_HOSTS]
        if not settings.DEBUG and reachable and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with published passwords, DEBUG is off and ALLOWED_HOSTS "
                f"lets others reach this site ({', '.join(map(repr, reachable))}). Run it only on a "
                "development machine (loopback ALLOWED_HOSTS), or pass --force if you mean it."
            )
        with transaction.atomic():
            created, admin_created = self._seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} objects created)."))
        self.stdout.write(f"  log in at /accounts/login/ as {DEMO_USER[0]} / {DEMO_USER[1]}")
        if admin_created:
            self.stdout.write(f"  admin at /admin/ as {ADMIN_USER[0]} / {ADMIN_USER[1]}")
        else:
            self.stdout.write(f"  admin user {ADMIN_USER[0]!r} already existed; its password was left alone")

    def _seed(self) -> tuple[int, bool]:
        """Create what is missing; return how many objects were created and whether admin was."""
        User = get_user_model()
        created = 0

        def user(username: str, password: str | None, *, superuser: bool = False) -> tuple[Any, bool]:
            nonlocal created
            existing = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
            if existing is not None:
                return existing, False  # never reset a password someone may have changed
            created += 1
            if superuser:
                return User.objects.create_superuser(username=username, password=password, email=""), True
            return User.objects.create_user(username=username, password=password), True

        _, admin_created = user(*ADMIN_USER, superuser=True)
        demo, _ = user(*DEMO_USER)
        teammate, _ = user(TEAMMATE, None)  # no usable password: only there to be assigned
        people = {"demo": demo, TEAMMATE: teammate}

        orgs: dict[str, Org] = {}
        for name, slug in ORGS:
            org, was_created = Org.objects.get_or_create(slug=slug, defaults={"name": name})
            orgs[slug] = org
            created += was_created
        # demo owns acme and is a plain member of globex, so both roles can be tried.
        for slug, person, role in [
            ("acme", demo, Membership.Role.OWNER),
            ("acme", teammate, Membership.Role.MEMBER),
            ("globex", demo, Membership.Role.MEMBER),
            ("globex", teammate, Membership.Role.OWNER),
        ]:
            _, was_created = Membership.objects.get_or_create(user=person, org=orgs[slug], defaults={"role": role})
            created += was_created
        for slug, title, status, assignee in TASKS:
            creator = demo if slug == "acme" else teammate
            _, was_created = Task.objects.get_or_create(
                org=orgs[slug],
                title=title,
                defaults={
                    "status": status,
                    "assignee": people[assignee] if assignee else None,
                    "created_by": creator,
                },
            )
            created += was_created
        return created, admin_created
