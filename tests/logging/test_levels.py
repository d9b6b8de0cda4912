"""Run-time log levels: the rules, the stores, and one process applying and reverting (a fake clock)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.cache import caches
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.test import override_settings
from django.test.client import ClientHandler

from django_lantern import _errors
from django_lantern.logging import _levels, _levels_apply, _levels_store
from django_lantern.logging._levels import LevelChangeError, parse_duration, parse_level, set_level
from django_lantern.logging._levels_apply import Applier, Poller
from django_lantern.logging._levels_store import CacheStore, FileStore, Override, Record, decode, resolve_store
from tests.conftest import LogCapture

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "levels-tests"}}
NAME = "tests.levels.subject"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MemoryStore:
    """A store in this process, failing on demand."""

    description = "memory"

    def __init__(self) -> None:
        self.record: Record | None = None
        self.fail = False

    def read(self) -> Record | None:
        if self.fail:
            raise ConnectionError("store down")
        return self.record

    def update(self, change: Any, now: float) -> Record:
        self.record = change(self.record or Record())
        return self.record


@pytest.fixture
def subject() -> Iterator[logging.Logger]:
    target = logging.getLogger(NAME)
    target.setLevel(logging.INFO)
    yield target
    target.setLevel(logging.NOTSET)


# -- levels and durations ----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "level"), [("DEBUG", 10), ("debug", 10), (" Warning ", 30), ("CRITICAL", 50), ("5", 5)]
)
def test_levels_by_name_in_any_case_or_by_number(text: str, level: int) -> None:
    assert parse_level(text) == level


@pytest.mark.parametrize("text", ["TRACE", "WARN", "0", "51", "-1", "", "info!"])
def test_anything_else_is_not_a_level(text: str) -> None:
    with pytest.raises(LevelChangeError, match="is not a log level; use one of DEBUG, INFO"):
        parse_level(text)


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5), ("15m", 900), ("2h", 7200), ("24h", 86400), ("1440m", 86400)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5", "5x", "1h30m", "", "m", "1.5h"])
def test_a_malformed_duration_says_how_to_write_one(text: str) -> None:
    with pytest.raises(LevelChangeError, match="write it like 30s, 15m or 2h"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0s", "25h", "86401s"])
def test_a_duration_is_from_one_second_to_a_day(text: str) -> None:
    with pytest.raises(LevelChangeError, match="from 1s to 24h"):
        parse_duration(text)


# -- which loggers -----------------------------------------------------------
def test_a_created_logger_its_parents_a_configured_one_and_a_module_are_known(subject: logging.Logger) -> None:
    _levels.check_name(NAME)
    _levels.check_name("tests.levels")  # a parent of a created logger
    _levels.check_name("django_lantern.logging._levels")  # a module: logging.getLogger(__name__) before it runs
    _levels.check_name("root")
    # Patched, not overridden: from Django 6 a LOGGING override reconfigures logging itself.
    from django.conf import settings

    with mock.patch.object(settings, "LOGGING", {"loggers": {"payments.gateway": {}}}):
        _levels.check_name("payments.gateway")


def test_an_unknown_logger_is_an_error_with_near_names(subject: logging.Logger) -> None:
    with pytest.raises(LevelChangeError) as caught:
        _levels.check_name("tests.levels.subjetc")
    assert "no logger named 'tests.levels.subjetc' is known" in str(caught.value)
    assert f"Did you mean {NAME}" in str(caught.value) and "--force" in str(caught.value)


def test_the_access_logger_cannot_be_made_quieter_than_info() -> None:
    assert _levels.silences_access("access", logging.WARNING)
    assert not _levels.silences_access("access", logging.INFO)
    assert not _levels.silences_access("access", logging.DEBUG)
    with pytest.raises(LevelChangeError, match="would silence the access log"):
        _levels.check_access("access", logging.ERROR)


def test_a_parent_silences_the_access_logger_only_when_it_has_no_level_of_its_own() -> None:
    access = logging.getLogger("access")
    saved = access.level
    try:
        access.setLevel(logging.INFO)
        assert not _levels.silences_access("root", logging.ERROR)
        access.setLevel(logging.NOTSET)
        assert _levels.silences_access("root", logging.ERROR)
        with override_settings(LANTERN={"ACCESS_LOGGER": "web.access"}):
            logging.getLogger("web.access").setLevel(logging.NOTSET)
            assert _levels.silences_access("web", logging.WARNING)
            assert not _levels.silences_access("access", logging.WARNING)
    finally:
        access.setLevel(saved)


# -- set and reset -----------------------------------------------------------
def test_set_writes_the_record_and_one_audit_line(subject: logging.Logger, logs: LogCapture) -> None:
    store, clock = MemoryStore(), Clock()
    override = set_level(NAME, "debug", seconds=300, actor="ops@host", store=store, clock=clock)
    assert override == Override(NAME, logging.DEBUG, clock.now + 300, "ops@host", clock.now)
    assert store.record is not None and store.record.overrides == {NAME: override} and store.record.version == 1
    (line,) = logs.by_logger("lantern.audit")
    assert line["level"] == "warning"
    assert line["message"] == f"log level of {NAME} set to DEBUG until 1970-01-12T13:51:40.000Z by ops@host (was INFO)"
    assert (line["actor"], line["target_logger"], line["new_level"], line["previous_level"]) == (
        "ops@host",
        NAME,
        "DEBUG",
        "INFO",
    )
    assert line["until"] == "1970-01-12T13:51:40.000Z" and line["audit_action"] == "loglevel.set"


def test_the_previous_level_is_the_override_in_force(subject: logging.Logger, logs: LogCapture) -> None:
    store, clock = MemoryStore(), Clock()
    set_level(NAME, "DEBUG", seconds=60, actor="a", store=store, clock=clock)
    set_level(NAME, "WARNING", seconds=60, actor="b", store=store, clock=clock)
    assert [line["previous_level"] for line in logs.by_logger("lantern.audit")] == ["INFO", "DEBUG"]


def test_expired_overrides_are_dropped_at_the_next_change(subject: logging.Logger) -> None:
    store, clock = MemoryStore(), Clock()
    set_level(NAME, "DEBUG", seconds=5, actor="a", store=store, clock=clock)
    clock.now += 10
    set_level("tests.levels", "DEBUG", seconds=5, actor="a", store=store, clock=clock)
    assert store.record is not None and list(store.record.overrides) == ["tests.levels"]


def test_reset_one_or_all_and_an_audit_line_each(subject: logging.Logger, logs: LogCapture) -> None:
    store, clock = MemoryStore(), Clock()
    set_level(NAME, "DEBUG", seconds=60, actor="a", store=store, clock=clock)
    set_level("tests.levels", "DEBUG", seconds=60, actor="a", store=store, clock=clock)
    assert _levels.reset(NAME, actor="b", store=store, clock=clock) == [NAME]
    with pytest.raises(LevelChangeError, match=f"logger '{NAME}' has no level override to reset"):
        _levels.reset(NAME, actor="b", store=store, clock=clock)
    assert _levels.reset(None, actor="b", store=store, clock=clock) == ["tests.levels"]
    resets = [line for line in logs.by_logger("lantern.audit") if line["audit_action"] == "loglevel.reset"]
    assert [(line["target_logger"], line["actor"]) for line in resets] == [(NAME, "b"), ("tests.levels", "b")]
    assert _levels.current_overrides(store, clock) == []


def test_without_a_store_nothing_is_written_and_the_error_names_the_fix(subject: logging.Logger) -> None:
    with override_settings(CACHES=LOCMEM), pytest.MonkeyPatch.context() as patch:
        patch.delenv(_levels_store.MULTIPROC_ENV, raising=False)
        with pytest.raises(LevelChangeError, match=r"PROMETHEUS_MULTIPROC_DIR is not set\. Configure a shared cache"):
            set_level(NAME, "DEBUG", actor="a")


# -- stores ------------------------------------------------------------------
def test_the_shared_cache_wins_then_the_multiprocess_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_levels_store.MULTIPROC_ENV, str(tmp_path))
    with override_settings(CACHES=LOCMEM):
        assert isinstance(resolve_store(), FileStore)
    file_cache = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    }
    with override_settings(CACHES=file_cache):
        assert isinstance(resolve_store(), CacheStore)


def test_the_file_store_round_trip(tmp_path: Path) -> None:
    store, clock = FileStore(str(tmp_path)), Clock()
    assert store.read() is None
    set_level(NAME, 10, seconds=60, actor="a", force=True, store=store, clock=clock)
    assert store.read() == Record(1, {NAME: Override(NAME, 10, clock.now + 60, "a", clock.now)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lantern-loglevels.json", "lantern-loglevels.lock"]


def test_the_cache_store_keeps_the_record_until_the_last_override_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    with override_settings(CACHES=LOCMEM):
        store, clock, ttls = CacheStore("default"), Clock(), []
        cache = caches["default"]
        real_set = cache.set
        monkeypatch.setattr(cache, "set", lambda key, value, ttl: ttls.append(ttl) or real_set(key, value, ttl))
        set_level(NAME, 10, seconds=90, actor="a", force=True, store=store, clock=clock)
        set_level("x.y", 10, seconds=30, actor="a", force=True, store=store, clock=clock)
        assert ttls == [90, 90]
        assert store.read() is not None
        _levels.reset(None, actor="a", store=store, clock=clock)
        assert store.read() is None  # nothing left: the key is gone


def test_a_held_lock_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_levels_store, "LOCK_WAIT", 0.1)
    with override_settings(CACHES=LOCMEM):
        caches["default"].add(_levels_store.LOCK_KEY, "someone", 10)
        with pytest.raises(LevelChangeError, match="another log level change holds the lock"):
            set_level(NAME, 10, actor="a", force=True, store=CacheStore("default"))
        caches["default"].delete(_levels_store.LOCK_KEY)


def test_entries_that_are_not_ours_are_left_out() -> None:
    good = {"level": 10, "expires_at": 5.0, "set_by": "a", "set_at": 1}
    raw = {
        "version": 3,
        "overrides": {
            "ok": good,
            "bad": {**good, "level": "10"},
            "nan": {**good, "expires_at": float("nan")},
            "loud": {**good, "level": 0},
        },
    }
    assert decode(raw) == Record(3, {"ok": Override("ok", 10, 5.0, "a", 1.0)})
    assert decode("junk") == Record() and decode({"version": "x", "overrides": []}) == Record()


# -- applying in one process -------------------------------------------------
def _override(level: int, expires_at: float, name: str = NAME) -> Override:
    return Override(name, level, expires_at, "ops@host", 0.0)


def test_applied_then_restored_when_the_time_is_up(subject: logging.Logger, logs: LogCapture) -> None:
    applier = Applier()
    applier.sync({NAME: _override(logging.DEBUG, 100.0)}, now=50.0)
    assert subject.level == logging.DEBUG
    applier.sync({NAME: _override(logging.DEBUG, 100.0)}, now=99.9)
    assert subject.level == logging.DEBUG
    applier.sync({NAME: _override(logging.DEBUG, 100.0)}, now=100.0)
    assert subject.level == logging.INFO
    messages = [line["message"] for line in logs.by_logger("django_lantern.logging")]
    assert messages == [
        f"log level of {NAME} is DEBUG in this process until 1970-01-01T00:01:40.000Z (set by ops@host)",
        f"log level of {NAME} is back to INFO in this process (override expired)",
    ]


def test_an_entry_longer_than_a_day_is_not_ours_and_ignored(subject: logging.Logger) -> None:
    Applier().sync({NAME: _override(logging.DEBUG, 1.0 + 86400 + 301)}, now=1.0)
    assert subject.level == logging.INFO
    Applier().sync({NAME: _override(logging.DEBUG, 1.0 + 86400)}, now=1.0)
    assert subject.level == logging.DEBUG


def test_a_reset_restores_the_first_level_even_after_several_changes(subject: logging.Logger) -> None:
    applier = Applier()
    applier.sync({NAME: _override(logging.DEBUG, 100.0)}, now=1.0)
    applier.sync({NAME: _override(logging.ERROR, 100.0)}, now=2.0)
    assert subject.level == logging.ERROR
    applier.sync({}, now=3.0)
    assert subject.level == logging.INFO


def test_a_logger_without_a_level_gets_none_back(logs: LogCapture) -> None:
    name = "tests.levels.fresh"
    applier = Applier()
    applier.sync({name: _override(logging.DEBUG, 100.0, name)}, now=1.0)
    assert logging.getLogger(name).level == logging.DEBUG
    applier.sync({}, now=2.0)
    assert logging.getLogger(name).level == logging.NOTSET
    (_, back) = logs.by_logger("django_lantern.logging")
    assert back["message"] == f"log level of {name} is back to NOTSET in this process (override reset)"
    assert back["new_level"] == "NOTSET"


def test_a_reconfiguration_that_undoes_an_override_is_undone(subject: logging.Logger) -> None:
    applier = Applier()
    applier.sync({NAME: _override(logging.DEBUG, 100.0)}, now=1.0)
    subject.setLevel(logging.WARNING)  # dictConfig again, say
    applier.sync({NAME: _override(logging.DEBUG, 100.0)}, now=2.0)
    assert subject.level == logging.DEBUG


def test_a_failing_store_keeps_the_last_record_and_its_overrides_still_end(
    subject: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[str] = []
    monkeypatch.setattr(_levels_apply, "report_internal_error", lambda where, exc: reported.append(where))
    store, clock = MemoryStore(), Clock(50.0)
    store.record = Record(1, {NAME: _override(logging.DEBUG, 100.0)})
    poller = Poller(store, Applier(), clock)
    poller.fetch_once()
    assert subject.level == logging.DEBUG
    store.fail = True
    poller.fetch_once()
    assert subject.level == logging.DEBUG and reported == ["loglevels_read"]
    clock.now = 100.0
    poller.tick()  # the clock thread: no read needed
    assert subject.level == logging.INFO


def test_a_record_gone_from_the_store_ends_its_overrides(subject: logging.Logger) -> None:
    store, clock = MemoryStore(), Clock(50.0)
    store.record = Record(1, {NAME: _override(logging.DEBUG, 100.0)})
    poller = Poller(store, Applier(), clock)
    poller.fetch_once()
    store.record = None  # evicted, or reset by the last writer
    poller.fetch_once()
    assert subject.level == logging.INFO


def _listening() -> bool:
    return any(key[0] == _levels_apply.REQUEST_STARTED_UID for key, *_ in request_started.receivers)


@pytest.fixture
def request_started_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The receiver connected, as apps.py leaves it, and connected again afterwards whatever the test did:
    a test that leaves it disconnected would stop every later test's server from starting its poller."""
    monkeypatch.setattr(_levels_apply, "_started", False)
    monkeypatch.setattr(_levels_apply, "_stopped_listening", False)
    monkeypatch.setattr(_levels_apply, "_start_lock", _levels_apply._start_lock)
    monkeypatch.setattr(_levels_apply._applier, "lock", _levels_apply._applier.lock)
    request_started.connect(_levels_apply.on_request_started, dispatch_uid=_levels_apply.REQUEST_STARTED_UID)
    try:
        yield
    finally:
        request_started.connect(_levels_apply.on_request_started, dispatch_uid=_levels_apply.REQUEST_STARTED_UID)


@pytest.mark.usefixtures("request_started_receiver")
def test_only_a_servers_first_request_starts_the_poller_then_stops_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(_levels_apply, "ensure_running", lambda: started.append(True))
    _levels_apply.on_request_started(sender=ClientHandler)
    assert started == [] and _listening()
    _levels_apply.on_request_started(sender=WSGIHandler)
    assert started == [True] and not _listening()


@pytest.mark.usefixtures("request_started_receiver")
def test_a_forked_child_listens_for_its_own_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent stopped listening once its poller ran; a child has no poller thread, so it listens again."""
    monkeypatch.setattr(_levels_apply, "ensure_running", lambda: None)
    _levels_apply.on_request_started(sender=WSGIHandler)
    assert not _listening()
    _levels_apply._forget_threads()  # what os.fork() runs in the child
    assert _listening() and not _levels_apply._started


@pytest.mark.usefixtures("request_started_receiver")
def test_a_child_that_never_stopped_listening_keeps_its_one_receiver() -> None:
    _levels_apply._forget_threads()
    assert sum(key[0] == _levels_apply.REQUEST_STARTED_UID for key, *_ in request_started.receivers) == 1


@pytest.mark.parametrize("shared", [False, True])
def test_the_pollers_store_opens_no_cache_in_the_calling_thread(tmp_path: Path, shared: bool) -> None:
    """Started by a request, the poller leaves that thread's ``caches`` as it found them:
    else Django's request_finished closes the cache after every request the thread serves."""
    backend = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    found: list[Any] = []

    def in_a_fresh_thread() -> None:
        found.append(resolve_store(dedicated=True))
        found.append(caches.all(initialized_only=True))

    with override_settings(CACHES={"default": backend} if shared else LOCMEM):
        thread = threading.Thread(target=in_a_fresh_thread)
        thread.start()
        thread.join()
    store, opened = found
    assert isinstance(store, CacheStore) is shared and opened == []


def test_no_store_no_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_levels_apply, "_started", False)
    monkeypatch.setattr(_levels_apply, "resolve_store", lambda dedicated: None)
    monkeypatch.setattr(Poller, "start", lambda self: pytest.fail("started"))
    _levels_apply.ensure_running()
    assert _levels_apply._started
    assert _errors.counts.get("loglevels_start") is None


def test_a_pollers_cache_is_its_own(tmp_path: Path) -> None:
    """The poller's backend outlives a change of ``CACHES`` (a test's override, here)."""
    first = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}}
    with override_settings(CACHES=first):
        poller_store = resolve_store(dedicated=True)
        set_level(NAME, 10, actor="a", force=True, store=CacheStore("default"))
    assert isinstance(poller_store, CacheStore)
    with override_settings(CACHES=LOCMEM):
        record = poller_store.read()
    assert record is not None and list(record.overrides) == [NAME]


def test_the_pollers_reads_are_not_counted_as_the_apps_cache_traffic(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_lantern.metrics import cache as counted

    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(counted, "_count", lambda alias, operation, result, amount=1: calls.append((operation, result)))
    instrumented = {"default": {"BACKEND": "django_lantern.metrics.cache.LocMemCache", "LOCATION": "levels-counted"}}
    with override_settings(CACHES=instrumented):
        CacheStore("default").read()  # apps.py set the read context at start-up
        assert calls == []
        caches["default"].get("anything")
        assert calls == [("get", "miss")]


def test_a_held_file_lock_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    monkeypatch.setattr(_levels_store, "LOCK_WAIT", 0.1)
    with open(tmp_path / _levels_store.LOCK_NAME, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        # flock locks belong to the open file: a second open of the same path in this process conflicts.
        with pytest.raises(LevelChangeError, match="another log level change holds the lock"):
            set_level(NAME, 10, actor="a", force=True, store=FileStore(str(tmp_path)))
