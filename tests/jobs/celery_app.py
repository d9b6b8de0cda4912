"""The Celery app the worker tests run: ``celery -A tests.jobs.celery_app worker``.

Configured from the environment by tests/jobs/worker.py: the broker
(``REDIS_URL``, its database included), a queue of the test's own, LANTERN keys as JSON.
"""

from __future__ import annotations

import logging
import os
import signal
import time

import django
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.jobs.settings")
if not apps.ready:  # the worker; the test process has set Django up already
    django.setup()

from celery import Celery, signals

from django_lantern.celery import instrument
from django_lantern.context import get_request_id

logger = logging.getLogger("tests.jobs")

app = Celery("lantern_jobs", broker=os.environ.get("JOBS_BROKER_URL") or os.environ.get("REDIS_URL"))
app.conf.update(
    task_default_queue=os.environ.get("JOBS_QUEUE", "lantern-jobs"),
    # Keep Django's LOGGING (JSON on stdout with the context filter) as it is.
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
)
instrument(app)

if os.environ.get("JOBS_SENTRY_EVENTS"):
    from tests.jobs.sentry_file import init_sentry_to_file

    init_sentry_to_file(os.environ["JOBS_SENTRY_EVENTS"])

if os.environ.get("JOBS_OTEL_SPANS"):
    from tests.jobs.span_file import trace_to_file

    trace_to_file(os.environ["JOBS_OTEL_SPANS"])


@app.task(name="jobs.log_and_return")
def log_and_return(tag: str) -> str:
    logger.info("task body", extra={"tag": tag})
    return get_request_id()


@app.task(name="jobs.queries")
def queries(n: int) -> None:
    from tests.jobs.costly import run_measured

    run_measured(n)


@app.task(name="jobs.repeat_query")
def repeat_query(times: int) -> int:
    from tests.jobs.repeat import repeat_query as run

    return run(times)


@app.task(name="jobs.fail")
def fail() -> None:
    logger.info("about to fail")
    raise ValueError("task failed on purpose")


@app.task(name="jobs.reset_password")
def reset_password(user_id: int, new_password: str) -> None:
    raise RuntimeError("mail server refused the reset")


@app.task(bind=True, name="jobs.retry_once", max_retries=3)
def retry_once(self: object) -> None:
    retries = self.request.retries  # type: ignore[attr-defined]
    logger.info("retry body", extra={"attempt": retries})
    if retries < 1:
        raise self.retry(countdown=0.2)  # type: ignore[attr-defined]


@app.task(name="jobs.spawn_child")
def spawn_child() -> None:
    logger.info("parent body")
    log_and_return.delay("child")


@app.task(name="jobs.sleep")
def sleep(seconds: float) -> None:
    logger.info("sleeping", extra={"seconds": seconds})
    time.sleep(seconds)


@app.task(name="jobs.kill_own_child")
def kill_own_child() -> None:
    """SIGKILL the pool child running this, as the OOM killer would."""
    logger.info("about to be killed")
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(name="jobs.killed_after_reporting")
def killed_after_reporting() -> None:
    logger.info("reporting, then killed")


@signals.task_postrun.connect(weak=False)
def _kill_after_reporting(sender: object = None, **_: object) -> None:
    """Connected after lantern's receiver: the child dies after it wrote its task line."""
    if getattr(sender, "name", None) == "jobs.killed_after_reporting":
        # "Wrote" means written out, not queued: the default handler writes from a thread.
        for handler in logging.getLogger().handlers + logging.getLogger("lantern.task").handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)


@app.task(name="jobs.debug_then_fail")
def debug_then_fail(tag: str) -> None:
    logger.debug("step before the failure tag=%s", tag)
    raise ValueError("task failed after a debug line")


@app.task(name="jobs.debug_then_succeed")
def debug_then_succeed(tag: str) -> None:
    logger.debug("step of a good run tag=%s", tag)
