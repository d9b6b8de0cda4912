"""django_lantern.reporting: Django's own error reports (admins' e-mail, DEBUG 500 page) scrubbed."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.utils.log import AdminEmailHandler
from prometheus_client import REGISTRY

from django_lantern import reporting
from django_lantern.context import RequestContext, current
from django_lantern.logging import build_logging_config
from django_lantern.reporting import ScrubbingAdminEmailHandler, ScrubbingExceptionReporterFilter
from tests.sentry.test_sentry import FORM, HEADERS, QUERY, assert_no_secrets

pytestmark = [pytest.mark.urls("tests.urls_errors"), pytest.mark.django_db]

OAUTH_CODE = "oauth-code-4f9a1c2e7b"
# Settings whose values, not names, hold credentials.
CREDENTIAL_SETTINGS = {
    "CELERY_BROKER_URL": "amqp://worker:broker-pw-6612@mq.internal:5672//",
    "SESSION_REDIS_URL": "redis://:redis-pw-8830@cache.internal:6379/0",
    "PRIMARY_DB_URL": "postgres://app:db-pw-4471@db.internal/app",
    "ERROR_TRACKER": "https://d5e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4@o1.ingest.sentry.io/42",
    "WEBHOOK_TARGET": "https://hook-user:hook-pw-2291@hooks.example.com/in",
}
SETTING_SECRETS = ["broker-pw-6612", "redis-pw-8830", "db-pw-4471", "d5e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4", "hook-pw-2291"]
FRAME_SECRET = "frame-local-pw-31"


def assert_clean(text: str, where: str) -> None:
    assert_no_secrets(text, where)
    for secret in [*SETTING_SECRETS, OAUTH_CODE, FRAME_SECRET]:
        assert secret not in text, f"{secret!r} leaked into {where}"


def post_leaky(client: Client, **extra: Any) -> Any:
    client.raise_request_exception = False
    client.cookies["sessionid"] = "sess8c1f2a9e7d"
    client.cookies["csrftoken"] = "csrf4b7e1d0c9a"
    headers = {k: v for k, v in HEADERS.items() if k != "HTTP_COOKIE"}
    query = "token={token}&api_key={api_key}&code={code}".format(code=OAUTH_CODE, **QUERY)
    referer = f"https://idp.example.com/authorize?code={OAUTH_CODE}"
    return client.post(f"/errors/leaky/?{query}", FORM, HTTP_REFERER=referer, **headers, **extra)


def installed_handler() -> ScrubbingAdminEmailHandler:
    (handler,) = (h for h in logging.getLogger("django").handlers if isinstance(h, ScrubbingAdminEmailHandler))
    return handler


@pytest.fixture(autouse=True)
def mail_handler() -> ScrubbingAdminEmailHandler:
    """The handler build_logging_config() installed, with no error seen yet (each test starts a window)."""
    handler = installed_handler()
    handler._sent.clear()
    return handler


def sent(handler: ScrubbingAdminEmailHandler) -> list[Any]:
    """The outbox once the sender thread has delivered what was queued."""
    handler.flush(5.0)
    return list(mail.outbox)


@pytest.fixture
def credential_settings(settings: Any) -> Any:
    for name, value in CREDENTIAL_SETTINGS.items():
        setattr(settings, name, value)
    return settings


def test_mail_admins_is_kept_and_the_mail_is_scrubbed(
    credential_settings: Any, client: Client, mail_handler: ScrubbingAdminEmailHandler
) -> None:
    """build_logging_config() keeps Django's mail_admins: with ADMINS set, a 500 sends one
    e-mail (locmem backend, the real handler) holding none of the request's or settings' secrets."""
    credential_settings.ADMINS = [("Ops", "ops@example.com")]
    credential_settings.DEBUG = False
    mail.outbox.clear()
    response = post_leaky(client)
    assert response.status_code == 500
    (message,) = sent(mail_handler)
    assert message.to == ["ops@example.com"]
    assert "RuntimeError" in message.body and "/errors/leaky/" in message.subject
    # The report's sections are there, with their values redacted.
    assert "CELERY_BROKER_URL" in message.body and "mq.internal" in message.body
    assert "[redacted]" in message.body
    assert_clean(message.subject + message.body, "the admins' e-mail")


def test_no_admins_no_mail(settings: Any, client: Client) -> None:
    """Without ADMINS nothing is built or sent (Django's handler would build the report first)."""
    settings.ADMINS = []
    settings.DEBUG = False
    mail.outbox.clear()
    post_leaky(client)
    assert sent(installed_handler()) == []


def test_mail_admins_opt_out() -> None:
    """build_logging_config(mail_admins=False) leaves the django logger to the console only."""
    assert build_logging_config()["loggers"]["django"]["handlers"] == ["mail_admins"]
    config = build_logging_config(mail_admins=False)
    assert "mail_admins" not in config["handlers"]
    assert config["loggers"]["django"]["handlers"] == []
    handler = logging.getLogger("django").handlers
    assert any(type(h).__name__ == "ScrubbingAdminEmailHandler" for h in handler)


def test_debug_technical_500_page_is_scrubbed(credential_settings: Any, client: Client) -> None:
    """With DEBUG on, the technical 500 page (HTML) shows settings, META, cookies, POST,
    GET and frame locals: every value holding a secret is redacted."""
    credential_settings.DEBUG = True
    response = post_leaky(client, HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "header_copy" in page and "upstream" in page
    assert "a harmless title" in page  # not everything is hidden
    assert_clean(page, "the DEBUG technical 500 page")


def test_debug_plain_text_500_is_scrubbed(credential_settings: Any, client: Client) -> None:
    """The plain-text variant (a client that does not accept HTML) is scrubbed the same way."""
    credential_settings.DEBUG = True
    response = post_leaky(client, HTTP_ACCEPT="text/plain")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/plain")
    assert_clean(response.content.decode(), "the plain-text technical 500")


def test_filter_cleanses_settings_by_value() -> None:
    """Settings are redacted by key (Django's and the scrubber's names) and by value."""
    f = ScrubbingExceptionReporterFilter()
    assert f.cleanse_setting("BROKER", "amqp://u:pw-123456@h//") == "amqp://[redacted]@h//"
    assert f.cleanse_setting("DATABASES", {"default": {"PASSWORD": "x", "HOST": "db"}}) == {
        "default": {"PASSWORD": "[redacted]", "HOST": "db"}
    }
    assert f.cleanse_setting("HOSTS", ["a", "b"]) == ["a", "b"]
    assert f.cleanse_setting("X_CREDENTIALS", "plain") == "[redacted]"


@pytest.fixture
def django_mail_handler() -> Iterator[logging.Handler]:
    """Django's own AdminEmailHandler on a logger, as a LOGGING of one's own would attach it."""
    logger = logging.getLogger("tests.reporting.mail")
    handler = AdminEmailHandler(reporter_class="django.views.debug.ExceptionReporter")
    handler.name = "my_mail"
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_check_is_silent_when_no_report_leaves_the_process(settings: Any) -> None:
    """With build_logging_config's mail handler (scrubbed whatever the settings say) or no ADMINS,
    Django's reporter settings raise no lantern.W030: the DEBUG page is the developer's own."""
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    settings.DEFAULT_EXCEPTION_REPORTER = "django.views.debug.ExceptionReporter"
    settings.ADMINS = [("ops", "ops@example.com")]
    assert any(isinstance(h, ScrubbingAdminEmailHandler) for h in logging.getLogger("django").handlers)
    assert [m for m in run_checks() if m.id == "lantern.W030"] == []


def test_check_names_a_mail_handler_that_reports_unscrubbed(settings: Any, django_mail_handler: Any) -> None:
    """lantern.W030 names Django's own mail handler, its reporter and filter, and what they show."""
    settings.ADMINS = [("ops", "ops@example.com")]
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = "django.views.debug.SafeExceptionReporterFilter"
    messages = [m for m in run_checks() if m.id == "lantern.W030"]
    assert len(messages) == 1
    assert messages[0].msg.startswith(
        "Error e-mails of the LOGGING handler 'my_mail' are rendered by django.views.debug.ExceptionReporter "
        "with django.views.debug.SafeExceptionReporterFilter, which show the query string, the request URL "
        "and the exception message as they are, and every credential whose name does not look secret"
    )
    assert 'DEFAULT_EXCEPTION_REPORTER = "django_lantern.reporting.ScrubbingExceptionReporter"' in messages[0].hint
    settings.ADMINS = []
    assert [m for m in run_checks() if m.id == "lantern.W030"] == []


def test_check_is_silent_once_the_reporter_is_ours(settings: Any) -> None:
    """Django's mail handler built with DEFAULT_EXCEPTION_REPORTER set to ours raises no lantern.W030."""
    settings.ADMINS = [("ops", "ops@example.com")]
    settings.DEFAULT_EXCEPTION_REPORTER = reporting.REPORTER_PATH
    logger = logging.getLogger("tests.reporting.mail")
    handler = AdminEmailHandler()
    logger.addHandler(handler)
    try:
        assert [m for m in run_checks() if m.id == "lantern.W030"] == []
    finally:
        logger.removeHandler(handler)


def test_reporting_all_is_pinned() -> None:
    """The names the settings refer to are the module's public API."""
    from django_lantern import reporting

    assert sorted(reporting.__all__) == [
        "ScrubbingAdminEmailHandler",
        "ScrubbingExceptionReporter",
        "ScrubbingExceptionReporterFilter",
    ]
    assert reporting.FILTER_PATH.rsplit(".", 1)[1] in reporting.__all__
    assert reporting.REPORTER_PATH.rsplit(".", 1)[1] in reporting.__all__


# -- the admins' e-mail never makes the logging thread wait ------------------------
class HeldBackend(BaseEmailBackend):
    """An e-mail backend that waits until released, as an unanswering mail server does."""

    release = threading.Event()
    sent: list[Any] = []

    def send_messages(self, email_messages: Any) -> int:
        HeldBackend.release.wait(10)
        HeldBackend.sent.extend(email_messages)
        return len(email_messages)


HELD = f"{__name__}.HeldBackend"


@pytest.fixture
def held() -> Iterator[type[HeldBackend]]:
    HeldBackend.release.clear()
    HeldBackend.sent.clear()
    yield HeldBackend
    HeldBackend.release.set()


def error_record(message: str = "Internal Server Error: %s", exc: BaseException | None = None) -> logging.LogRecord:
    try:
        raise exc or RuntimeError("boom")
    except BaseException:
        exc_info = sys.exc_info()
    return logging.makeLogRecord(
        {
            "name": "django.request",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": message,
            "args": ("/orders/",),
            "exc_info": exc_info,
        }
    )


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("lantern_mail_dropped_total", {"reason": reason}) or 0.0


@pytest.fixture
def admins(settings: Any) -> Any:
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_TIMEOUT = None
    return settings


@pytest.mark.usefixtures("admins")
def test_sending_happens_off_the_logging_thread(held: type[HeldBackend]) -> None:
    """With the mail server holding every send, handling an error returns at once; the mail goes out when it answers."""
    handler = ScrubbingAdminEmailHandler(email_backend=HELD)
    started = time.monotonic()
    handler.handle(error_record())
    assert time.monotonic() - started < 1.0
    assert held.sent == []
    held.release.set()
    handler.flush(5.0)
    (message,) = held.sent
    assert "RuntimeError" in message.body


@pytest.mark.usefixtures("admins")
def test_a_full_queue_drops_and_counts(held: type[HeldBackend]) -> None:
    """Behind a held server the queue takes max_queue mails (plus the one in the sender); the rest are counted."""
    handler = ScrubbingAdminEmailHandler(email_backend=HELD, max_queue=2)
    before, before_prom = reporting.mail_stats()["queue_full"], dropped("queue_full")
    for n in range(6):  # six different errors (exception types): none is rate-limited
        handler.handle(error_record(exc=type(f"Error{n}", (Exception,), {})()))
        time.sleep(0.05)  # the sender takes the first one off the queue
    assert reporting.mail_stats()["queue_full"] - before == 3
    assert dropped("queue_full") - before_prom == 3
    held.release.set()
    handler.flush(5.0)
    assert len(held.sent) == 3


@pytest.mark.usefixtures("admins")
def test_the_same_error_is_mailed_once_per_window() -> None:
    """The same error (logger and call, route, exception type and frames; not the message) within
    the window: one mail, the rest counted. The log folds errors with the same rule."""
    handler = ScrubbingAdminEmailHandler(email_backend="django.core.mail.backends.locmem.EmailBackend")
    mail.outbox.clear()
    before = dropped("rate_limited")
    for n in range(5):
        handler.handle(error_record(exc=RuntimeError(f"boom {n}")))  # the message varies: the same error
    handler.handle(error_record(exc=ValueError("other type")))
    ctx = RequestContext("rid", "GET", "/healthz", None)
    ctx.probe_route = "/healthz"
    token = current.set(ctx)
    try:
        handler.handle(error_record())  # another route
    finally:
        current.reset(token)
    assert len(sent(handler)) == 3
    assert dropped("rate_limited") - before == 4
    handler.rate_window = 0.0  # the window has passed
    handler.handle(error_record())
    assert len(sent(handler)) == 4


def test_the_connection_has_a_timeout(admins: Any) -> None:
    """EMAIL_TIMEOUT None (Django's default, wait forever) gets the handler's timeout; a set EMAIL_TIMEOUT is kept."""
    handler = ScrubbingAdminEmailHandler(email_backend="django.core.mail.backends.smtp.EmailBackend", timeout=2.5)
    assert handler._mail_connection().timeout == 2.5
    admins.EMAIL_TIMEOUT = 7
    assert handler._mail_connection().timeout == 7


def test_an_unanswering_smtp_server_costs_the_sender_one_timeout(admins: Any) -> None:
    """A mail server that accepts and never answers: the send fails after the timeout and is counted as failed."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # connections complete in the backlog; nothing ever answers
        admins.EMAIL_HOST, admins.EMAIL_PORT = "127.0.0.1", server.getsockname()[1]
        admins.EMAIL_USE_TLS = admins.EMAIL_USE_SSL = False
        handler = ScrubbingAdminEmailHandler(email_backend="django.core.mail.backends.smtp.EmailBackend", timeout=0.3)
        before = dropped("failed")
        started = time.monotonic()
        handler.handle(error_record())
        assert time.monotonic() - started < 0.2
        assert handler._sender.flush(5.0)
        assert time.monotonic() - started < 3.0
        assert dropped("failed") - before == 1


def test_raw_request_targets_in_meta_are_scrubbed_like_the_query_string() -> None:
    """gunicorn's RAW_URI (and REQUEST_URI) in the mail and DEBUG page lose what QUERY_STRING loses."""
    from django.test import RequestFactory

    raw = "/cb/?code=one-time-code-77&next=https%3A%2F%2Fapp%3Anested-pw-77%40db.internal%2F&page=2"
    request = RequestFactory().get("/cb/", {"page": "2"}, RAW_URI=raw, REQUEST_URI=raw)
    meta = ScrubbingExceptionReporterFilter().get_safe_request_meta(request)
    for key in ("RAW_URI", "REQUEST_URI"):
        assert "one-time-code-77" not in meta[key] and "nested-pw-77" not in meta[key], meta[key]
        assert meta[key].startswith("/cb/?code=[redacted]") and "page=2" in meta[key]
