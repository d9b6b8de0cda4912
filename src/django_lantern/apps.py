"""The app's start-up: validate ``LANTERN``, register the checks, connect the signals, wrap commands."""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.signals import got_request_exception, request_started, setting_changed

from django_lantern import _release, shutdown
from django_lantern._exceptions import on_request_exception
from django_lantern.conf import get_settings, settings_errors
from django_lantern.health._drain import server_stopping
from django_lantern.http import _users
from django_lantern.jobs import _commands, _djtasks
from django_lantern.logging import _held, _inflight, _levels_apply, _levels_store, handlers, servers
from django_lantern.metrics import _db, _recorder, _workers
from django_lantern.metrics.cache import uncounted


class LanternConfig(AppConfig):
    name = "django_lantern"
    label = "django_lantern"
    verbose_name = "django-lantern"

    def ready(self) -> None:
        # Imported for its side effect, registering the system checks: in ready(),
        # as Django's convention has it for modules that register on import.
        from django_lantern import checks  # noqa: F401

        # A bad LANTERN value is lantern.E002's to report: raising here would
        # kill `manage.py check` itself with a traceback. Commands that run the
        # checks stop on it, and a server refuses to load the middleware
        # (conf.settings_for_server); nothing below may read the bad values.
        if settings_errors():
            return
        _release.identity()  # resolved here, once: the build-info file is never read on a request

        got_request_exception.connect(on_request_exception, dispatch_uid="django_lantern.exceptions")
        user_logged_out.connect(_users.on_logged_out, dispatch_uid="django_lantern.logged_out")
        # The ASGI handler's lifespan shutdown: flush events and spans (gunicorn's worker_exit does it there).
        server_stopping.connect(shutdown.flush_at_server_stop, dispatch_uid="django_lantern.shutdown")
        # Run-time log levels: a server's first request starts this process's poller (docs/logging.md).
        request_started.connect(_levels_apply.on_request_started, dispatch_uid=_levels_apply.REQUEST_STARTED_UID)
        _levels_store.read_context = uncounted  # its once-a-second reads are not the app's cache traffic
        # DEBUG_ON_ERROR is turned on by the first request or task that uses it; a test's off gives logging back.
        setting_changed.connect(_held.on_setting_changed, dispatch_uid="django_lantern.debug_on_error")
        _recorder.connect()  # internal errors counted in lantern_internal_errors_total
        _db.install()  # query timing on every new connection
        _inflight.start_watcher(get_settings().stuck_request_ms)  # STUCK_REQUEST_MS: a thread only when set
        # uvicorn's --timeout-graceful-shutdown running out: the requests it cancels, with their stacks.
        # Here, not in the lifespan: uvicorn says it on its logger whatever ASGI handler the project uses.
        _inflight.watch_uvicorn_shutdown()
        handlers.ensure_metrics()  # log-failure counters visible at zero from the start
        if _workers.refusal() is not None:  # /metrics answers 503 with the same text
            logging.getLogger("django_lantern.metrics").error("%s", _workers.refusal())
        workers = _workers.detected()
        master_text = workers is not None and workers.master_logs_text and servers.master_text_lines(workers.server)
        if master_text:  # the one line of the process's output lantern cannot turn into JSON itself
            logging.getLogger("django_lantern").warning("%s", master_text)

        # Django stopped capturing warnings; a LOGGING that configures the
        # py.warnings logger (build_logging_config does) asks for them.
        if "py.warnings" in (getattr(settings, "LOGGING", None) or {}).get("loggers", {}):
            logging.captureWarnings(True)

        _commands.install()  # one request id per management command run (COMMAND_REQUEST_ID)
        _djtasks.connect()  # django.tasks / django-tasks: context, task line, metrics
