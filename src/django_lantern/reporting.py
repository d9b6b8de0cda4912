"""Django's error reports through the one scrubber: the admins' e-mail and the DEBUG page.

Django's ``SafeExceptionReporterFilter`` hides settings and META entries by
key name only, and only when ``DEBUG`` is off; it leaves a database, Redis
or broker URL with a password, a Sentry DSN, query strings, cookies under
unremarkable names and the locals of every frame as they are, and the DEBUG
technical 500 page shows POST values unfiltered. Set both::

    DEFAULT_EXCEPTION_REPORTER_FILTER = "django_lantern.reporting.ScrubbingExceptionReporterFilter"
    DEFAULT_EXCEPTION_REPORTER = "django_lantern.reporting.ScrubbingExceptionReporter"

The filter covers settings, ``META`` (headers, ``QUERY_STRING``, ``Referer``),
cookies, POST fields and frame locals; the reporter covers what Django's
reporter shows without asking the filter: the GET parameters, the request
URL and the exception message. ``build_logging_config()``'s ``mail_admins``
handler (:class:`ScrubbingAdminEmailHandler`) uses the reporter, whatever the
settings say, and never makes the request wait for the mail server (see the
class). ``lantern.W030``
warns while either setting names something else.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.http import HttpRequest, QueryDict
from django.utils.log import AdminEmailHandler
from django.views.debug import CallableSettingWrapper, ExceptionReporter, SafeExceptionReporterFilter

from django_lantern.context import current
from django_lantern.logging._folding import RepeatBudget, error_fingerprint
from django_lantern.logging.handlers import OffThreadQueue
from django_lantern.scrubbing import (
    RAW_TARGET_ENVIRON_KEYS,
    Scrubber,
    get_scrubber,
    noted_path,
    redact_request_secrets,
    replace_url_path,
    request_secrets,
)

__all__ = ["ScrubbingAdminEmailHandler", "ScrubbingExceptionReporter", "ScrubbingExceptionReporterFilter"]

FILTER_PATH = "django_lantern.reporting.ScrubbingExceptionReporterFilter"
REPORTER_PATH = "django_lantern.reporting.ScrubbingExceptionReporter"
_URL_META_KEYS = ("HTTP_REFERER", "HTTP_ORIGIN")


class _Shown:
    """A scrubbed value that the report prints as it is (``pprint`` shows its repr)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _secrets(request: HttpRequest | None) -> tuple[str, ...]:
    return request_secrets(request) if request is not None else ()


class _ShownRequest:
    """What Django's report templates read from the request, with the path scrubbed."""

    def __init__(self, request: HttpRequest, path_info: str) -> None:
        self.path_info = path_info
        self.META = request.META
        self.GET = request.GET
        self.COOKIES = request.COOKIES
        self.FILES = request.FILES  # already parsed: the report lists the files

    def __bool__(self) -> bool:
        return True


class ScrubbingExceptionReporterFilter(SafeExceptionReporterFilter):
    """``SafeExceptionReporterFilter`` with the scrubber's keys and value patterns, always active."""

    @property
    def scrubber(self) -> Scrubber:
        return get_scrubber()

    @property
    def cleansed_substitute(self) -> str:  # type: ignore[override]
        return self.scrubber.replacement

    def is_active(self, request: HttpRequest | None) -> bool:
        # The DEBUG page is a sink too: markers apply whatever DEBUG says.
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        """Django's key rule, the scrubber's keys, and the scrubber's value
        patterns on every string (``postgres://app:pw@db``, a DSN)."""
        scrubber = self.scrubber
        try:
            sensitive = key == settings.SESSION_COOKIE_NAME or bool(self.hidden_settings.search(key))
        except TypeError:
            sensitive = False
        if sensitive or scrubber.is_sensitive_key(key):
            return self.cleansed_substitute
        if isinstance(value, dict):
            return {k: self.cleanse_setting(k, v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            cleaned = [self.cleanse_setting("", v) for v in value]
            return cleaned if isinstance(value, list) else tuple(cleaned)
        if isinstance(value, str):
            return scrubber.scrub_text(value)
        if callable(value):
            return CallableSettingWrapper(value)
        return value

    def get_safe_request_meta(self, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:
            return {}
        meta: dict[str, Any] = super().get_safe_request_meta(request)
        if not meta:
            return meta
        scrubber = self.scrubber
        query = request.META.get("QUERY_STRING")
        if isinstance(query, str) and query:
            meta["QUERY_STRING"] = scrubber.scrub_query_string(query)
        for key in (*_URL_META_KEYS, *RAW_TARGET_ENVIRON_KEYS):
            if isinstance(request.META.get(key), str):
                meta[key] = scrubber.scrub_url(request.META[key])
        return scrubber.redact_known(meta, _secrets(request))  # type: ignore[no-any-return]

    def get_safe_cookies(self, request: HttpRequest | None) -> dict[str, Any]:
        # Any cookie may be a session: names say nothing, values are all hidden.
        cookies = getattr(request, "COOKIES", None) or {}
        return dict.fromkeys(cookies, self.cleansed_substitute)

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        post = super().get_post_parameters(request)
        if request is None or not post:
            return post
        scrubber = self.scrubber
        secrets = _secrets(request)
        cleaned = QueryDict(mutable=True)
        for key, values in post.lists():  # type: ignore[attr-defined]  # a QueryDict
            if scrubber.is_sensitive_key(key):
                cleaned.setlist(key, [self.cleansed_substitute])
            else:
                cleaned.setlist(key, [scrubber.redact_known(scrubber.scrub_text(str(v)), secrets) for v in values])
        return cleaned

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        substitute = self.cleansed_substitute
        scrubber = self.scrubber
        secrets = _secrets(request)
        cleaned: list[tuple[str, Any]] = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if (
                value is substitute
                or (isinstance(value, str) and value == substitute)
                or scrubber.is_sensitive_key(name)
            ):
                cleaned.append((name, substitute))
                continue
            try:
                shown = scrubber.scrub(value)
                if not isinstance(shown, str):
                    shown = repr(shown)
                shown = scrubber.redact_known(shown, secrets)
            except Exception:
                # A value that cannot be scrubbed is not shown at all.
                shown = f"<{type(value).__name__}: not shown, scrubbing failed>"
            cleaned.append((name, _Shown(shown)))
        return cleaned


class ScrubbingExceptionReporter(ExceptionReporter):
    """``ExceptionReporter`` that scrubs what it shows without asking the filter."""

    def __init__(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        if not isinstance(self.filter, ScrubbingExceptionReporterFilter) and not hasattr(
            request, "exception_reporter_filter"
        ):
            # Django's default filter would undo half of this report's care.
            self.filter = ScrubbingExceptionReporterFilter()

    def get_traceback_data(self) -> dict[str, Any]:
        data: dict[str, Any] = super().get_traceback_data()
        scrubber = get_scrubber()
        secrets = _secrets(self.request)

        def text(value: object) -> str:
            return scrubber.redact_known(scrubber.scrub_text(str(value)), secrets)  # type: ignore[no-any-return]

        if self.request is not None:
            noted = noted_path(self.request)
            # The templates print ``request.path_info`` in the title ("RuntimeError at /reset/...").
            data["request"] = _ShownRequest(
                self.request, text(noted.path if noted is not None else self.request.path_info)
            )
            data["request_GET_items"] = [
                (k, scrubber.replacement if scrubber.is_sensitive_query_parameter(k) else text(v))
                for k, v in self.request.GET.items()
            ]
            uri = data.get("request_insecure_uri", "")
            if noted is not None:  # URL parameters named secret (``scrubbing.redacted_path``)
                uri = replace_url_path(uri, noted.path)
            data["request_insecure_uri"] = text(scrubber.scrub_url(uri))
        for key in ("exception_value", "exception_notes"):
            if key in data:
                data[key] = text(data[key])
        for frame in data.get("frames", ()):
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = text(frame["exc_cause"])
        return data


RATE_LIMITED, QUEUE_FULL, FAILED = "rate_limited", "queue_full", "failed"

# Not sent, by reason, in this process (also ``lantern_mail_dropped_total``).
_dropped = {RATE_LIMITED: 0, QUEUE_FULL: 0, FAILED: 0}
_dropped_lock = threading.Lock()


def mail_stats() -> dict[str, int]:
    """Error e-mails not sent in this process, by reason."""
    with _dropped_lock:
        return dict(_dropped)


def _count_dropped(reason: str) -> None:
    with _dropped_lock:
        _dropped[reason] += 1
    try:
        # Imported here: prometheus_client reads PROMETHEUS_MULTIPROC_DIR once,
        # when first imported, and this module is imported by logging's dictConfig.
        from django_lantern.metrics._families import get_log_families

        families = get_log_families()
        if families is not None:
            families.mail_dropped.labels(reason).inc()
    except Exception:  # a metrics fault must not become a logging fault
        pass


class ScrubbingAdminEmailHandler(AdminEmailHandler):
    """Django's ``mail_admins`` handler, reporting with :class:`ScrubbingExceptionReporter`,
    that never makes the logging thread wait for the mail server.

    Also scrubs the subject (it quotes the path, which can hold a token) and
    builds nothing when ``ADMINS`` is empty: Django's handler renders the
    whole report first and only then finds nobody to send it to.

    Django's handler sends in the thread that logs, under the handler's lock,
    with no timeout unless ``EMAIL_TIMEOUT`` is set: one unanswering mail
    server holds every thread that logs an error. Here:

    - the report is rendered in the logging thread (the request is still
      there) and sent by one sender thread from a queue of ``max_queue``
      mails; when it is full the mail is dropped;
    - the connection has a timeout: ``EMAIL_TIMEOUT``, or ``timeout`` seconds
      when that is None;
    - one mail per error per ``rate_window`` seconds, an error being what the
      log folds as one (``logging/_folding.error_fingerprint``: the logger and
      the call, the route, the exception's type and frames); the rest are
      dropped before anything is rendered. ``max_errors`` errors are
      remembered, the least recently seen forgotten first.

    Every mail not sent is counted by reason (``lantern_mail_dropped_total``,
    :func:`mail_stats`): ``rate_limited``, ``queue_full``, ``failed``.
    """

    def __init__(
        self,
        include_html: bool = False,
        email_backend: str | None = None,
        reporter_class: str | None = None,
        *,
        timeout: float = 10.0,
        rate_window: float = 60.0,
        max_queue: int = 100,
        max_errors: int = 1000,
    ) -> None:
        super().__init__(include_html, email_backend, reporter_class or REPORTER_PATH)
        self.timeout = timeout
        self.rate_window = rate_window
        self._sent = RepeatBudget(max_errors)
        self._sender: OffThreadQueue[tuple[Any, Any, dict[str, Any]]] = OffThreadQueue(
            self._deliver, max_queue, "lantern-mail-sender"
        )

    def emit(self, record: logging.LogRecord) -> None:
        if not settings.ADMINS:
            return
        if not self._admit(record):
            _count_dropped(RATE_LIMITED)
            return
        super().emit(record)  # renders the report, then calls send_mail

    def _admit(self, record: logging.LogRecord) -> bool:
        """True for the first record of its error in the window."""
        return self._sent.admit(error_fingerprint(record), self.rate_window) is not None

    def send_mail(self, subject: Any, message: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("fail_silently", None)  # the sender counts failures instead
        if args:  # Django passes everything else by keyword; keep a positional html_message
            kwargs.setdefault("html_message", args[0])
        if not self._sender.put((subject, message, kwargs)):
            _count_dropped(QUEUE_FULL)

    def _mail_connection(self) -> BaseEmailBackend:
        # Not ``connection()``: Django 6.1 refuses a handler that defines it (the name was undocumented).
        timeout = settings.EMAIL_TIMEOUT if settings.EMAIL_TIMEOUT is not None else self.timeout
        return mail.get_connection(backend=self.email_backend, fail_silently=False, timeout=timeout)

    def _deliver(self, item: tuple[Any, Any, dict[str, Any]]) -> None:
        subject, message, kwargs = item
        try:
            mail.mail_admins(subject, message, connection=self._mail_connection(), **kwargs)
        except Exception:
            _count_dropped(FAILED)

    def flush(self, timeout: float = 1.0) -> None:
        """Wait at most ``timeout`` seconds for queued mails to be sent (bounded: the server may hang)."""
        self._sender.flush(timeout)

    def close(self) -> None:
        self.flush()
        super().close()

    def format(self, record: logging.LogRecord) -> str:
        """The record's line at the top of the mail ("Internal Server Error: /path"), scrubbed like the subject."""
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            ctx = current.get()
            request = ctx.request if ctx is not None else None
        return str(redact_request_secrets(get_scrubber().scrub_text(super().format(record)), request))

    def format_subject(self, subject: str) -> str:
        # The subject quotes the path: the request's own secrets (a token in a
        # URL parameter, ``scrubbing.redacted_path``) go as in the body.
        ctx = current.get()
        request = ctx.request if ctx is not None else None
        return str(super().format_subject(redact_request_secrets(get_scrubber().scrub_text(subject), request)))
