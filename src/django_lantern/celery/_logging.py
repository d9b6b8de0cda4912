"""A worker keeps Django's ``LOGGING`` unless its owner chose Celery's logging.

``celery worker`` configures logging once, as it starts: it sends the
``setup_logging`` signal and, when nobody is connected to it, empties the
root logger (``worker_hijack_root_logger``, on by default) and puts its own
text handler there. Django's handlers, its JSON formatter and lantern's
context filter are gone; task lines come out as
``[2026-...: INFO/ForkPoolWorker-1] ...`` without ids.

The rule, decided at ``celeryd_init`` (the worker starting, before it
configures logging):

- ``worker_hijack_root_logger`` left on (the default) and no other
  ``setup_logging`` receiver: lantern connects one. Celery then leaves logging
  alone, so Django's ``LOGGING`` (already applied by ``django.setup()``)
  stays in force in the main process and, inherited, in every child. The
  startup banner, a ``print`` to stdout rather than a log record, becomes one
  INFO line on the ``celery.apps.worker`` logger, so that every line the
  worker writes is in the configured format. ``--loglevel`` no longer
  applies: levels come from ``LOGGING``, as for the web process.
- ``worker_hijack_root_logger = False``: the owner asked for Celery's own
  arrangement (Celery adds its handlers to loggers that have none); lantern
  connects nothing.
- another ``setup_logging`` receiver: its owner configures logging; lantern
  connects nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from django_lantern._errors import report_internal_error

SETUP_UID = "django_lantern.setup_logging"

logger = logging.getLogger("celery.apps.worker")


def keep_django_logging(**_: Any) -> None:
    """``setup_logging`` receiver: being connected is what stops Celery; make sure Django's config is applied."""
    from django.apps import apps

    if not apps.ready:  # a worker whose app module did not set Django up
        import django

        django.setup()


def _others_configure_logging() -> bool:
    from celery import signals

    return any(key[0] != SETUP_UID for key, _ in signals.setup_logging.receivers)


def _banner_line(worker: Any) -> None:
    try:
        queues = ",".join(sorted(getattr(worker.app.amqp, "queues", {}) or ()))
        logger.info(
            "celery worker %s starting: concurrency %s, queues %s",
            getattr(worker, "hostname", "-"),
            getattr(worker, "concurrency", "-"),
            queues or "-",
        )
    except Exception as exc:
        report_internal_error("celery_banner", exc)


def on_worker_starting(sender: Any = None, instance: Any = None, conf: Any = None, **_: Any) -> None:
    """``celeryd_init``: apply the rule above."""
    try:
        if conf is None or not conf.worker_hijack_root_logger or _others_configure_logging():
            return
        from celery import signals

        signals.setup_logging.connect(keep_django_logging, weak=False, dispatch_uid=SETUP_UID)
        if instance is not None:
            instance.emit_banner = lambda: _banner_line(instance)
    except Exception as exc:
        report_internal_error("celery_logging", exc)
