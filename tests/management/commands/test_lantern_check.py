"""``manage.py lantern_check``: exit 0 when ready, non-zero when not."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_lantern.health.checks import CheckFailed

pytestmark = pytest.mark.django_db


def not_ready() -> None:
    raise CheckFailed("warming up")


def test_ready_exits_zero_and_prints_the_body() -> None:
    """When ready the command returns normally and prints the /readyz body as JSON."""
    out = StringIO()
    call_command("lantern_check", stdout=out)
    body = json.loads(out.getvalue())
    assert body["status"] == "ready" and body["db"] == "ok" and body["cache"] == "ok"


def test_not_ready_exits_one(settings: Any) -> None:
    """When a check fails the command raises CommandError with return code 1, after printing the body."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{__name__}.not_ready"]}
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("lantern_check", stdout=out)
    assert info.value.returncode == 1
    body = json.loads(out.getvalue())
    assert body["status"] == "not_ready"
    assert body["checks"]["custom:not_ready"]["error"] == "warming up"
