"""tasks.management.commands.seed_demo: demo data for ``make run``."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from tasks.models import Membership, Org, Task

pytestmark = pytest.mark.django_db


def _seed(**options: Any) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def _counts() -> tuple[int, int, int, int]:
    return (get_user_model().objects.count(), Org.objects.count(), Membership.objects.count(), Task.objects.count())


def test_seed_creates_demo_data_and_prints_credentials(settings: Any) -> None:
    """Users, two orgs, memberships and about ten tasks; the demo credentials are printed and work."""
    settings.DEBUG = True
    output = _seed()
    assert "demo / demo-password" in output
    assert "admin / admin-password" in output
    users, orgs, memberships, tasks = _counts()
    assert users == 3  # admin, demo and a teammate to assign tasks to
    assert orgs == 2
    assert memberships >= 2
    assert 8 <= tasks <= 12
    assert authenticate(username="demo", password="demo-password") is not None
    admin = authenticate(username="admin", password="admin-password")
    assert admin is not None
    assert admin.is_superuser
    assert Membership.objects.filter(user__username="demo").count() == 2


def test_seed_is_idempotent(settings: Any) -> None:
    """A second run creates nothing new."""
    settings.DEBUG = True
    _seed()
    before = _counts()
    output = _seed()
    assert _counts() == before
    assert "0 objects created" in output


def test_seed_keeps_an_existing_admin(settings: Any, django_user_model: Any) -> None:
    """An existing admin is neither duplicated nor given the published password."""
    settings.DEBUG = True
    django_user_model.objects.create_superuser(username="admin", password="a-real-secret", email="")
    output = _seed()
    assert "admin-password" not in output
    assert authenticate(username="admin", password="a-real-secret") is not None
    assert authenticate(username="admin", password="admin-password") is None


def test_seed_refuses_on_a_reachable_site(settings: Any) -> None:
    """With DEBUG off and a public host allowed it refuses (published passwords), unless --force."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "tasks.example.com"]
    with pytest.raises(CommandError, match=r"'tasks\.example\.com'"):
        _seed()
    assert _counts() == (0, 0, 0, 0)
    _seed(force=True)
    assert Org.objects.count() == 2


def test_seed_runs_with_debug_off_on_loopback_hosts(settings: Any) -> None:
    """``make run`` (DEBUG off, served on 127.0.0.1 only) gets its demo accounts."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    assert "demo / demo-password" in _seed()
    assert authenticate(username="demo", password="demo-password") is not None
