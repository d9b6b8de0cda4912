"""tasks.models: constraints and who may edit a task."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError

from tasks.models import Membership, Org, Task

pytestmark = pytest.mark.django_db


def test_membership_is_unique_per_user_and_org(org: Org, member: Any) -> None:
    """A user cannot be a member of the same org twice."""
    with pytest.raises(IntegrityError):
        Membership.objects.create(user=member, org=org, role=Membership.Role.OWNER)


def test_org_slug_is_unique(org: Org) -> None:
    """Two orgs cannot share a slug."""
    with pytest.raises(IntegrityError):
        Org.objects.create(name="Acme 2", slug=org.slug)


def test_editable_by_rules(org: Org, owner: Any, member: Any, django_user_model: Any) -> None:
    """Creator, assignee and owner may edit; another plain member may not."""
    third = django_user_model.objects.create_user(username="third")
    third_membership = Membership.objects.create(user=third, org=org)
    owner_membership = Membership.objects.get(user=owner, org=org)
    member_membership = Membership.objects.get(user=member, org=org)
    task = Task.objects.create(org=org, title="t", created_by=member)
    assert task.editable_by(member, member_membership)
    assert task.editable_by(owner, owner_membership)
    assert not task.editable_by(third, third_membership)
    task.assignee = third
    assert task.editable_by(third, third_membership)


def test_owner_of_another_org_cannot_edit(org: Org, owner: Any, member: Any) -> None:
    """Owning some other org gives no right over this org's tasks."""
    other = Org.objects.create(name="Other", slug="other")
    foreign_owner = Membership.objects.create(user=member, org=other, role=Membership.Role.OWNER)
    task = Task.objects.create(org=org, title="t", created_by=owner)
    assert not task.editable_by(member, foreign_owner)


def test_str(org: Org, task: Task, owner: Any) -> None:
    """Models print as their names."""
    assert str(org) == "Acme"
    assert str(task) == "Ship the release"
    assert str(Membership.objects.get(user=owner)) == "olivia in Acme (owner)"
