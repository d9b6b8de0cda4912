from __future__ import annotations

from django.apps import AppConfig


class LanternConfig(AppConfig):
    name = "django_lantern"
    label = "django_lantern"
    verbose_name = "django-lantern"

    def ready(self) -> None:
        from django.core.signals import got_request_exception

        from django_lantern.conf import get_settings

        # A bad LANTERN value fails the deploy here, at start-up, with the
        # message that names it; otherwise every request would raise it.
        get_settings()

        from django_lantern import checks  # noqa: F401  (registers the checks)
        from django_lantern.health import system_checks  # noqa: F401  (bounded-wait deploy checks)
        from django_lantern.metrics import startup  # noqa: F401  (metric checks, DB query timing)
        from django_lantern.signals import on_request_exception

        got_request_exception.connect(on_request_exception, dispatch_uid="django_lantern.exceptions")

        from django_lantern.logging import handlers

        handlers.ensure_metrics()  # log-failure counters visible at zero from the start

        import logging

        from django.conf import settings

        # Django stopped capturing warnings; a LOGGING that configures the
        # py.warnings logger (build_logging_config does) asks for them.
        if "py.warnings" in (getattr(settings, "LOGGING", None) or {}).get("loggers", {}):
            logging.captureWarnings(True)

        from django_lantern import commands

        commands.install()  # one request id per management command run (COMMAND_REQUEST_ID)

        from django_lantern import djtasks

        djtasks.connect()  # django.tasks / django-tasks: context, task line, metrics
