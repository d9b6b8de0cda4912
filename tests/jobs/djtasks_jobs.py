"""Tasks for the django.tasks tests, on whichever framework this Django has."""

from __future__ import annotations

import logging
from importlib.util import find_spec

if find_spec("django.tasks"):
    from django.tasks import task
else:
    from django_tasks import task

logger = logging.getLogger("tests.djtasks")


@task()
def record(note: str) -> str:
    logger.info("job ran note=%s", note, extra={"note": note})
    return note


@task()
def queries(n: int) -> None:
    from tests.jobs.costly import run_measured

    run_measured(n)


@task()
def repeat(times: int) -> int:
    from tests.jobs.repeat import repeat_query

    return repeat_query(times)


@task()
def explode() -> None:
    raise ValueError("the task failed on purpose")


@task()
def reset_password(user_id: int, new_password: str) -> None:
    # Pieces only: Sentry sends each frame's locals and the source around it.
    raise RuntimeError(
        "upstream rejected " + "xoxb-" + "2345678901-2345678901234-AbCdEfGhIjKlMnOpQrStUvWx"
        "\nDETAIL:  Key (email)=(" + "maria@" + "example.org" + ") already exists."
    )


@task()
def explode_after_debug() -> None:
    logger.debug("task step %s", "djtask-step-7")
    raise ValueError("the task failed after a debug line")


@task()
def debug_then_succeed() -> None:
    logger.debug("task step %s", "djtask-quiet-7")
