"""Fixtures for the example project's tests: users, an org with its members, tasks, log capture."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from django_lantern.logging import RequestContextFilter
from tasks.models import Membership, Org, Task
from tests.example.logs import ACCESS_LOGGER


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """PBKDF2's deliberate slowness only slows the suite down here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="olivia", password="owner-password")


@pytest.fixture
def member(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="max", password="member-password")


@pytest.fixture
def outsider(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="eve", password="outsider-password")


@pytest.fixture
def org(owner: Any, member: Any) -> Org:
    org = Org.objects.create(name="Acme", slug="acme")
    Membership.objects.create(user=owner, org=org, role=Membership.Role.OWNER)
    Membership.objects.create(user=member, org=org, role=Membership.Role.MEMBER)
    return org


@pytest.fixture
def task(org: Org, owner: Any) -> Task:
    return Task.objects.create(org=org, title="Ship the release", created_by=owner)


@pytest.fixture
def tasks(org: Org, owner: Any, member: Any) -> list[Task]:
    return [
        Task.objects.create(org=org, title="Write docs", status=Task.Status.TODO, created_by=owner),
        Task.objects.create(
            org=org, title="Deploy to staging", status=Task.Status.DOING, created_by=owner, assignee=member
        ),
        Task.objects.create(
            org=org, title="Deploy to production", description="after staging", created_by=member, assignee=member
        ),
        Task.objects.create(org=org, title="Retro", status=Task.Status.DONE, created_by=member),
    ]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` that also sees the ``access`` logger and enriches records with request context.

    The built ``LOGGING`` turns ``propagate`` off for ``access`` (each line is written
    once), so the root-level capture handler is attached to it as well; the context
    filter is what a real handler runs, so records carry ``request_id`` and friends.
    """
    access = logging.getLogger(ACCESS_LOGGER)
    context_filter = RequestContextFilter()
    caplog.handler.addFilter(context_filter)
    access.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            yield caplog
    finally:
        access.removeHandler(caplog.handler)
        caplog.handler.removeFilter(context_filter)
