"""Building the readiness checks from settings: selection, dotted paths, clear errors, rebuilds."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_lantern.health import _registry as registry
from django_lantern.health._database import DatabaseCheck
from django_lantern.health.checks import CacheCheck, CallableCheck, ReadinessCheck

NOT_A_CHECK = 42


class MyCheck(ReadinessCheck):
    def run(self) -> None:
        return None


def my_function() -> None:
    return None


def test_default_checks_every_database_and_cache() -> None:
    """By default every DATABASES and CACHES alias gets a check."""
    checks = registry.build_checks()
    assert [c.name for c in checks] == ["db:default", "cache:default"]
    assert isinstance(checks[0], DatabaseCheck) and isinstance(checks[1], CacheCheck)


def test_selected_aliases_and_custom_checks(settings: Any) -> None:
    """READINESS_DATABASES/CACHES select aliases; READINESS_CHECKS adds a class and a function."""
    settings.LANTERN = {
        "READINESS_DATABASES": ["default"],
        "READINESS_CACHES": [],
        "READINESS_CHECKS": [f"{__name__}.MyCheck", f"{__name__}.my_function"],
    }
    checks = registry.build_checks()
    assert [c.name for c in checks] == ["db:default", "custom:MyCheck", "custom:my_function"]
    assert isinstance(checks[1], MyCheck) and isinstance(checks[2], CallableCheck)


def test_dummy_cache_is_not_checked(settings: Any) -> None:
    """A DummyCache can never read back a value, so it gets no check."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert [c.name for c in registry.build_checks()] == ["db:default"]


def test_unknown_alias_names_the_setting_the_alias_and_the_choices(settings: Any) -> None:
    """An unknown alias raises ImproperlyConfigured naming the key, the alias and the configured ones."""
    settings.LANTERN = {"READINESS_DATABASES": ["replica"]}
    with pytest.raises(ImproperlyConfigured) as info:
        registry.build_checks()
    message = str(info.value)
    assert "READINESS_DATABASES" in message and "'replica'" in message and "'default'" in message


def test_unimportable_check_names_the_path_and_the_fix(settings: Any) -> None:
    """A dotted path that does not import raises ImproperlyConfigured naming it and what to give."""
    settings.LANTERN = {"READINESS_CHECKS": ["myproject.checks.nope"]}
    with pytest.raises(ImproperlyConfigured) as info:
        registry.build_checks()
    message = str(info.value)
    assert "READINESS_CHECKS" in message and "'myproject.checks.nope'" in message and "ReadinessCheck" in message


def test_non_callable_target_is_refused(settings: Any) -> None:
    """A dotted path to something that is neither a check class nor callable is refused."""
    settings.LANTERN = {"READINESS_CHECKS": [f"{__name__}.NOT_A_CHECK"]}
    with pytest.raises(ImproperlyConfigured, match="neither a ReadinessCheck subclass nor callable"):
        registry.build_checks()


def test_runner_is_built_once_and_rebuilt_on_setting_change(settings: Any) -> None:
    """get_runner() is cached, and a LANTERN change builds a new one with the new checks."""
    first = registry.get_runner()
    assert registry.get_runner() is first
    settings.LANTERN = {"READINESS_CACHES": [], "READINESS_TIMEOUT": 0.25}
    second = registry.get_runner()
    assert second is not first
    assert [c.name for c in second.checks] == ["db:default"]
    assert second.default_timeout == 0.25
