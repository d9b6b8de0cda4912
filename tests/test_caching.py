"""Caches built from settings: cleared by override_settings, resources built once and torn down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from django_lantern import _caching as caching
from django_lantern import conf
from django_lantern.metrics import _families as families
from django_lantern.metrics import _recorder as recorder


@pytest.fixture(autouse=True)
def _forget_test_caches() -> Iterator[None]:
    """Caches declared by a test are unregistered after it."""
    caches = list(caching._caches)
    yield
    caching._caches[:] = caches


def test_override_settings_clears_a_settings_cache() -> None:
    """A cached value is built once, then again after LANTERN changes, both ways."""
    calls: list[str] = []

    @caching.settings_cache
    def logger_name() -> str:
        calls.append("built")
        return conf.get_settings().access_logger

    assert logger_name() == logger_name() == "access"
    with override_settings(LANTERN={"ACCESS_LOGGER": "web"}):
        assert logger_name() == "web"
    assert logger_name() == "access"
    assert calls == ["built"] * 3


@pytest.mark.parametrize("setting", sorted(caching.WATCHED_SETTINGS))
def test_every_watched_setting_resets(setting: str) -> None:
    """Each watched setting clears the caches (DATABASES and CACHES feed the readiness checks)."""
    built = caching.settings_cache(object)
    first = built()
    caching._on_setting_changed(setting=setting)
    assert built() is not first


def test_other_settings_do_not_reset() -> None:
    """A change to a setting django-lantern does not read keeps the caches."""
    built = caching.settings_cache(object)
    first = built()
    with override_settings(TIME_ZONE="Europe/Paris"):
        assert built() is first


def test_resource_is_torn_down_once_and_only_when_built() -> None:
    """A resource's teardown gets the built value on reset, and is not called when nothing was built."""
    released: list[object] = []
    resource = caching.settings_cache(teardown=released.append)(object)
    caching.reset_settings_caches()
    assert released == []
    value = resource()
    assert resource() is value
    caching.reset_settings_caches()
    assert released == [value]
    assert resource() is not value


def test_resource_is_built_once_under_concurrency() -> None:
    """Threads that miss at the same moment share one build (a resource registers collectors)."""
    builds: list[int] = []
    start = threading.Barrier(8)

    def build() -> int:
        builds.append(1)
        time.sleep(0.05)  # widen the window a plain functools.cache would race in
        return len(builds)

    resource = caching.settings_cache(teardown=lambda value: None)(build)
    results: list[int] = []

    def worker() -> None:
        start.wait()
        results.append(resource())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert builds == [1]
    assert results == [1] * 8


def test_override_settings_rebuilds_metric_families_and_recorder_state() -> None:
    """A new namespace reaches the families, the recorder's state and the task families; the old
    collectors are unregistered, so nothing is registered twice."""
    before = families.get_families()
    with override_settings(LANTERN={"METRICS_NAMESPACE": "shop"}):
        inside = families.get_families()
        assert inside.prefix == "shop"
        assert recorder._state().fams is inside
        assert families.get_task_families().tasks._name == "shop_lantern_tasks"
        recorder.request_started()
        assert REGISTRY.get_sample_value("shop_http_server_active_requests") == 1
        assert REGISTRY.get_sample_value("http_server_active_requests") is None
    after = families.get_families()
    assert after.prefix == "" and after is not before and after is not inside
    assert recorder._state().fams is after
    assert REGISTRY.get_sample_value("shop_http_server_active_requests") is None


def test_settings_are_one_object_until_changed() -> None:
    """get_settings() returns the same object on every call, and a new one after a change."""
    first = conf.get_settings()
    assert conf.get_settings() is first
    with override_settings(LANTERN={"SLOW_REQUEST_MS": 5}):
        assert conf.get_settings() is not first
    assert conf.get_settings() is not first
    assert conf.get_settings() == first


def test_a_failing_teardown_does_not_leave_other_caches_stale() -> None:
    """Every cache is cleared even when one teardown raises; the error is raised afterwards."""

    def fail(value: object) -> None:
        raise RuntimeError("teardown failed")

    broken = caching.settings_cache(teardown=fail)(object)
    after = caching.settings_cache(object)
    broken()
    first = after()
    with pytest.raises(RuntimeError, match="teardown failed"):
        caching.reset_settings_caches()
    assert after() is not first
