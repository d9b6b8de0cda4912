"""The built-in opt-in checks (health/builtin.py): migrations, storage, disk, Celery broker and workers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

from django_lantern.health import builtin
from django_lantern.health._registry import get_runner
from django_lantern.health.builtin import CeleryWorkersCheck
from django_lantern.health.checks import CheckFailed
from tests.conftest import CORE_URLS
from tests.helpers.servers import free_port
from tests.helpers.services import require_redis

pytestmark = [pytest.mark.urls(CORE_URLS)]

BUILTIN = "django_lantern.health.builtin."


def _readyz(client: Client, name: str) -> tuple[int, dict[str, Any]]:
    response = client.get(f"/readyz/{name}")
    return response.status_code, response.json()["checks"][name]


class ExplodingStorage(FileSystemStorage):
    """A storage that refuses every write, as a full or read-only volume does."""

    def _save(self, name: str, content: Any) -> str:
        raise PermissionError(13, "Permission denied", f"/srv/secret-volume/{name}")


# -- names, timeouts, opt-in -------------------------------------------------------
@pytest.mark.django_db
def test_builtins_are_opt_in_with_their_own_names_and_timeouts(client: Client, settings: Any) -> None:
    """Listed in READINESS_CHECKS they get fixed names and their own default timeouts; unlisted, none runs."""
    assert {c.name for c in get_runner().checks} == {"db:default", "cache:default"}
    settings.LANTERN = {
        "READINESS_CHECKS": [BUILTIN + n for n in ("MigrationsCheck", "StorageCheck", "DiskSpaceCheck")],
        "READINESS_CHECK_TIMEOUTS": {"storage:default": 4},
    }
    workers = get_runner()._workers
    assert list(workers) == ["db:default", "cache:default", "migrations:default", "storage:default", "disk"]
    assert workers["migrations:default"].timeout == 2.0
    assert workers["storage:default"].timeout == 4.0
    assert workers["disk"].timeout == 0.5  # READINESS_TIMEOUT


# -- migrations --------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_migrations_check_fails_while_a_migration_is_unapplied(client: Client, settings: Any) -> None:
    """migrations:default passes on a migrated database and fails, with a count, when one is missing."""
    settings.LANTERN = {"READINESS_CHECKS": [BUILTIN + "MigrationsCheck"], "READINESS_CACHE_SECONDS": 0}
    status, entry = _readyz(client, "migrations:default")
    assert status == 200 and entry["ok"] is True
    recorder = MigrationRecorder(connection)
    app, name = max(k for k in recorder.applied_migrations() if k[0] == "tasks")
    recorder.record_unapplied(app, name)
    try:
        status, entry = _readyz(client, "migrations:default")
    finally:
        recorder.record_applied(app, name)
    assert status == 503 and entry["error"] == "1 migration(s) not applied"
    assert _readyz(client, "migrations:default")[0] == 200


# -- storage -----------------------------------------------------------------------
@pytest.mark.django_db
def test_storage_check_writes_reads_and_deletes(client: Client, settings: Any, tmp_path: Path) -> None:
    """storage:default saves a small uniquely named file, reads it back and leaves nothing behind."""
    settings.MEDIA_ROOT = str(tmp_path)
    settings.LANTERN = {"READINESS_CHECKS": [BUILTIN + "StorageCheck"], "READINESS_CACHE_SECONDS": 0}
    for _ in range(2):
        status, entry = _readyz(client, "storage:default")
        assert status == 200 and entry["ok"] is True
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_storage_check_fails_when_the_storage_refuses(client: Client, settings: Any) -> None:
    """A storage that cannot be written fails the check generically: the path stays out of the body."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.ExplodingStorage"}}
    settings.LANTERN = {"READINESS_CHECKS": [BUILTIN + "StorageCheck"]}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage:default"]["error"] == "unavailable"
    assert b"secret-volume" not in response.content


# -- disk --------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(("min_free", "ok"), [(0, True), ("0%", True), ("100%", False), (1 << 62, False)])
def test_disk_check_threshold(client: Client, settings: Any, tmp_path: Path, min_free: object, ok: bool) -> None:
    """disk passes above READINESS_DISK_MIN_FREE (bytes or percent) and fails under it, without the path."""
    settings.LANTERN = {
        "READINESS_CHECKS": [BUILTIN + "DiskSpaceCheck"],
        "READINESS_DISK_PATH": str(tmp_path),
        "READINESS_DISK_MIN_FREE": min_free,
    }
    response = client.get("/readyz/disk")
    assert (response.status_code == 200) is ok
    entry = response.json()["checks"]["disk"]
    assert entry["ok"] is ok
    if not ok:
        assert entry["error"].endswith("required") and "bytes free" in entry["error"]
        assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_disk_check_on_a_missing_path_fails_generically(client: Client, settings: Any, tmp_path: Path) -> None:
    """A path that does not exist fails as "unavailable"."""
    settings.LANTERN = {"READINESS_CHECKS": [BUILTIN + "DiskSpaceCheck"], "READINESS_DISK_PATH": str(tmp_path / "x")}
    assert _readyz(client, "disk") == (503, {"ok": False, "ms": pytest.approx(0, abs=1000), "error": "unavailable"})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("READINESS_DISK_MIN_FREE", "5"),
        ("READINESS_DISK_MIN_FREE", "101%"),
        ("READINESS_DISK_MIN_FREE", -1),
        ("READINESS_DISK_MIN_FREE", True),
        ("READINESS_DISK_PATH", ""),
        ("READINESS_NON_CRITICAL", "cache:default"),
        ("READINESS_CHECK_TIMEOUTS", {"db:default": 0}),
        ("READINESS_CHECK_TIMEOUTS", ["db:default"]),
    ],
)
def test_bad_probe_settings_are_refused(key: str, value: object) -> None:
    """Each new key is validated at start-up with a message naming it."""
    from django_lantern.conf import build_settings

    _, errors = build_settings({key: value})
    assert len(errors) == 1 and key in errors[0]


# -- Celery ------------------------------------------------------------------------
@pytest.fixture
def celery_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Celery app remembered as the one instrumented (other tests may have instrumented theirs)."""
    from celery import Celery

    app = Celery("lantern-probe-test")
    monkeypatch.setattr(builtin, "_celery_apps", [app])
    return app


CELERY_CHECKS = [BUILTIN + "CeleryBrokerCheck", BUILTIN + "CeleryWorkersCheck"]


@pytest.mark.django_db
def test_celery_checks_need_the_integration(client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without django_lantern.celery.instrument() the Celery checks fail with a clear reason."""
    monkeypatch.setattr(builtin, "_celery_apps", [])
    settings.LANTERN = {"READINESS_CHECKS": CELERY_CHECKS}
    body = client.get("/readyz").json()
    assert body["checks"]["celery:broker"]["error"] == "Celery integration not instrumented"


@pytest.mark.services
@pytest.mark.django_db
def test_celery_broker_reachable_and_no_worker(client: Client, settings: Any, celery_app: Any) -> None:
    """celery:broker passes against Redis; celery:workers fails when no worker answers.

    The broker is REDIS_URL's database, where other tests' workers may run: the
    ping goes to a remote-control exchange of this test's own, which none of them reads.
    """
    from tests.jobs.worker import broker_url, forget_queues

    broker = broker_url(require_redis())
    celery_app.conf.broker_url = broker
    celery_app.conf.control_exchange = f"lantern-probe-{uuid.uuid4().hex[:12]}"
    settings.LANTERN = {"READINESS_CHECKS": CELERY_CHECKS}
    try:
        assert _readyz(client, "celery:broker")[0] == 200
        assert _readyz(client, "celery:workers")[0] == 503
        check = CeleryWorkersCheck("celery:workers")
        check.budget = 1.0
        with pytest.raises(CheckFailed, match="no worker answered a ping"):
            check.run()
    finally:
        forget_queues(broker)


@pytest.mark.django_db
def test_celery_broker_down_fails_within_its_timeout(client: Client, settings: Any, celery_app: Any) -> None:
    """A broker port with nothing listening fails celery:broker, answered within the check's timeout."""
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    settings.LANTERN = {"READINESS_CHECKS": CELERY_CHECKS[:1]}
    status, entry = _readyz(client, "celery:broker")
    assert status == 503 and entry["error"] in ("unavailable", "timeout")
    assert entry["ms"] <= 1000 * 1.5


@pytest.mark.services
@pytest.mark.django_db
def test_celery_workers_answer_from_a_real_worker(client: Client, settings: Any, celery_app: Any) -> None:
    """With a real solo worker on the broker (REDIS_URL's database), celery:workers passes."""
    from tests.jobs.worker import broker_url, run_worker

    broker = broker_url(require_redis())
    celery_app.conf.broker_url = broker
    settings.LANTERN = {"READINESS_CHECKS": CELERY_CHECKS, "READINESS_CHECK_TIMEOUTS": {"celery:workers": 3}}
    with run_worker(broker, pool="solo"):
        status, entry = _readyz(client, "celery:workers")
    assert status == 200 and entry["ok"] is True


@pytest.mark.services
@pytest.mark.parametrize("check_class", ["CeleryBrokerCheck", "CeleryWorkersCheck"])
def test_celery_checks_are_bounded_against_a_black_holed_broker(celery_app: Any, check_class: str) -> None:
    """A broker that accepts and never answers frees the check's thread within a few timeouts, not minutes."""
    import threading

    from django.utils.module_loading import import_string

    from tests.helpers.fault_proxy import FaultProxy

    redis = urlsplit(require_redis())
    with FaultProxy(redis.port or 6379, redis.hostname or "127.0.0.1") as proxy:
        celery_app.conf.broker_url = f"redis://127.0.0.1:{proxy.port}/15"
        proxy.black_hole()
        check = import_string(BUILTIN + check_class)(check_class)
        check.budget = 0.5
        outcome: list[BaseException | None] = []

        def attempt() -> None:
            try:
                check.run()
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        thread.join(5)  # measured 20 s and more before the socket timeouts were set
        assert not thread.is_alive()
        assert outcome and outcome[0] is not None


@pytest.mark.services
@pytest.mark.django_db(transaction=True, databases=["default"])
def test_migrations_check_interrupt_frees_a_query_on_a_silent_connection(
    django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migrations query goes silent mid-run (black-holed PostgreSQL); interrupt() ends it at once."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout

    from django.db import connections

    from django_lantern.health.builtin import MigrationsCheck
    from tests.conftest import extra_databases
    from tests.helpers.fault_proxy import FaultProxy
    from tests.helpers.services import require_postgres

    port = urlsplit(require_postgres()).port or 5432
    worker = ThreadPoolExecutor(max_workers=1)  # one thread throughout, as the runner's
    with FaultProxy(port) as proxy:
        default = connections["default"].settings_dict
        alias = {**default, "HOST": "127.0.0.1", "PORT": str(proxy.port), "CONN_MAX_AGE": 0, "TEST": {}}
        with extra_databases(django_db_blocker, proxied=alias):
            check = MigrationsCheck("migrations:proxied")
            check.alias = "proxied"
            check.budget = 1.0
            worker.submit(check.run).result(timeout=30)  # passes through the proxy
            real = MigrationRecorder.applied_migrations
            silenced = threading.Event()

            def silence_then_read(recorder: MigrationRecorder) -> Any:
                recorder.connection.ensure_connection()
                proxy.black_hole()  # the connection is open: its next query goes unanswered
                silenced.set()
                return real(recorder)

            monkeypatch.setattr(MigrationRecorder, "applied_migrations", silence_then_read)
            stuck = worker.submit(check.run)
            assert silenced.wait(10)
            with pytest.raises(FutureTimeout):
                stuck.result(timeout=0.5)  # stuck on the silent connection
            interrupted = time.monotonic()
            check.interrupt()
            assert stuck.exception(timeout=2.0) is not None, "interrupt() did not end the stuck query"
            assert time.monotonic() - interrupted < 2.0
    worker.shutdown()
