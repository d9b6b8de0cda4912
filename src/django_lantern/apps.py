"""The app's start-up: validate ``LANTERN``, register the checks, connect the signals, wrap commands."""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.signals import got_request_exception

from django_lantern._exceptions import on_request_exception
from django_lantern.conf import settings_errors
from django_lantern.http import _users
from django_lantern.jobs import _commands, _djtasks
from django_lantern.logging import handlers
from django_lantern.metrics import _db, _recorder


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

        got_request_exception.connect(on_request_exception, dispatch_uid="django_lantern.exceptions")
        user_logged_out.connect(_users.on_logged_out, dispatch_uid="django_lantern.logged_out")
        _recorder.connect()  # internal errors counted in lantern_internal_errors_total
        _db.install()  # query timing on every new connection
        handlers.ensure_metrics()  # log-failure counters visible at zero from the start

        # Django stopped capturing warnings; a LOGGING that configures the
        # py.warnings logger (build_logging_config does) asks for them.
        if "py.warnings" in (getattr(settings, "LOGGING", None) or {}).get("loggers", {}):
            logging.captureWarnings(True)

        _commands.install()  # one request id per management command run (COMMAND_REQUEST_ID)
        _djtasks.connect()  # django.tasks / django-tasks: context, task line, metrics
