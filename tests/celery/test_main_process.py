"""The worker's main process (``django_lantern.celery._main_process``): counted once, wrappers kept once."""

from __future__ import annotations

from celery import Celery, Task

from django_lantern import celery as lantern_celery
from django_lantern.celery import _main_process


def test_a_run_is_claimed_once_by_whoever_counts_it_first() -> None:
    table = _main_process.Reported()
    assert table.claim("t-1", 0, 100)
    assert not table.claim("t-1", 0, 100)  # the main process after the child (or the other way round)
    assert table.claim("t-1", 1, 100)  # a retry is another run
    assert table.claim("t-1", 0, 200)  # a redelivery to another child is another run


def test_every_task_class_inherits_the_wrappers() -> None:
    app = lantern_celery.instrument(Celery("plain"))

    @app.task(name="wrapped.plain")
    def plain() -> None: ...

    class Base(Task):  # type: ignore[misc]
        pass

    @app.task(name="wrapped.based", base=Base)
    def based() -> None: ...

    for task in (plain, based):
        assert getattr(task.Request, "_lantern_wrapped", False) and getattr(task.Strategy, "_lantern_wrapped", False)


def test_install_wraps_once_and_keeps_the_apps_own_request_class() -> None:
    from celery.worker.request import Request

    class Own(Request):  # type: ignore[misc]
        pass

    class OwnTask(Task):  # type: ignore[misc]
        Request = Own

    app = lantern_celery.instrument(Celery("wrapped", task_cls=OwnTask))
    lantern_celery.instrument(app)
    wrapped = app.Task.Request
    assert issubclass(wrapped, Own) and wrapped.__mro__[1] is Own
    strategy = app.Task.Strategy
    _main_process.install(app.Task)
    assert app.Task.Strategy is strategy
