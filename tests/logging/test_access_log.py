"""The access log: one record per request on ``access``, with the right level and fields."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.test.client import AsyncClient

from tests import urls_core
from tests.conftest import CORE_URLS, LogCapture
from tests.logging.test_access_direct import STOCK_STEPS

pytestmark = pytest.mark.urls(CORE_URLS)

CHAPTER_LINE = re.compile(r"method=GET path=/ok/ status=200 duration_ms=\d+\.\d\d user_id=None")


@pytest.fixture
def quiet_client() -> Client:
    """A client that returns the 500 response instead of re-raising the view's exception."""
    return Client(raise_request_exception=False)


@pytest.fixture
def user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("ada", password="pw-not-used-123")


def test_exactly_one_record_with_every_field(client: Client, logs: LogCapture) -> None:
    """One access record per request, carrying method, path, route, status, duration, user and request id."""
    response = client.get("/items/7/?token=SECRET&page=2", headers={"X-Request-Id": "acc-1"})
    records = logs.access()
    assert len(records) == 1
    line = logs.by_logger("access")[0]
    assert line["method"] == "GET"
    assert line["path"] == "/items/7/"
    assert line["route"] == "/items/<int:pk>/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None
    assert line["request_id"] == "acc-1" == response.headers["X-Request-Id"]
    assert line["level"] == "info"
    assert "SECRET" not in logs.everything()


def test_message_is_the_chapters_key_value_line(client: Client, logs: LogCapture) -> None:
    """The record's message is the chapter's ``method=... path=... status=... duration_ms=... user_id=...``."""
    client.get("/ok/")
    assert CHAPTER_LINE.fullmatch(logs.access()[0].getMessage())


def test_text_line_adds_request_id_and_route(client: Client, logs: LogCapture) -> None:
    """The text formatter's access line carries request_id and route before the chapter's message."""
    client.get("/items/1/", headers={"X-Request-Id": "txt-1"})
    text = logs.text_lines[logs.records.index(logs.access()[0])]
    assert "request_id=txt-1" in text
    assert 'route="/items/<int:pk>/"' in text
    assert "path=/items/1/ status=200" in text
    assert text.count("user_id=") == 1


def test_chapter_assert_logs_style_still_works(client: Client) -> None:
    """``assertLogs("access")`` style capture sees ``path=/healthz/`` and ``status=200``."""
    logger = logging.getLogger("access")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    try:
        client.get("/healthz/")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(r.getMessage() for r in records)
    assert "path=/healthz/" in joined and "status=200" in joined


@pytest.mark.parametrize(
    ("method", "path", "level"),
    [
        ("get", "/ok/", logging.INFO),
        ("get", "/redirect/", logging.INFO),
        ("get", "/does-not-exist/", logging.WARNING),
        ("get", "/forbidden/", logging.WARNING),
        ("post", "/only-get/", logging.WARNING),
        ("get", "/boom/", logging.ERROR),
    ],
)
def test_level_follows_status(quiet_client: Client, logs: LogCapture, method: str, path: str, level: int) -> None:
    """INFO for 2xx/3xx, WARNING for 4xx, ERROR for 5xx, including a view that raises."""
    getattr(quiet_client, method)(path)
    records = logs.access()
    assert len(records) == 1
    assert records[0].levelno == level


def test_view_that_raises_is_logged_as_500(quiet_client: Client, logs: LogCapture) -> None:
    """A view that raises gives one ERROR access record with status 500."""
    quiet_client.get("/boom/")
    (line,) = logs.by_logger("access")
    assert line["status"] == 500 and line["level"] == "error"


def test_skip_paths_silence_the_access_log(client: Client, logs: LogCapture, settings: Any) -> None:
    """Paths matching ACCESS_LOG_SKIP_PATHS write no access record."""
    settings.LANTERN = {"ACCESS_LOG_SKIP_PATHS": [r"^/ok/$", r"^/healthz"]}
    client.get("/ok/")
    client.get("/healthz")
    client.get("/items/1/")
    assert [r.getMessage().split()[1] for r in logs.access()] == ["path=/items/1/"]


def test_sample_rate_zero_silences_success_but_logs_errors(
    quiet_client: Client, logs: LogCapture, settings: Any
) -> None:
    """A sampled path at rate 0 drops its successes but still logs its errors."""
    settings.LANTERN = {"ACCESS_LOG_SAMPLE_PATHS": {r"^/(ok|boom)/$": 0.0}}
    for _ in range(5):
        quiet_client.get("/ok/")
    quiet_client.get("/boom/")
    statuses = [r.status for r in logs.access()]  # type: ignore[attr-defined]
    assert statuses == [500]


def test_sample_rate_one_keeps_everything(client: Client, logs: LogCapture, settings: Any) -> None:
    """A sampled path at rate 1 logs every request."""
    settings.LANTERN = {"ACCESS_LOG_SAMPLE_PATHS": {r"^/ok/$": 1.0}}
    for _ in range(5):
        client.get("/ok/")
    assert len(logs.access()) == 5


def test_slow_request_raises_level_to_warning(client: Client, logs: LogCapture, settings: Any) -> None:
    """A request at or over SLOW_REQUEST_MS is logged at WARNING."""
    settings.LANTERN = {"SLOW_REQUEST_MS": 0}
    client.get("/ok/")
    assert logs.access()[0].levelno == logging.WARNING


def test_slow_request_threshold_none_turns_it_off(client: Client, logs: LogCapture, settings: Any) -> None:
    """SLOW_REQUEST_MS None never raises the level."""
    settings.LANTERN = {"SLOW_REQUEST_MS": None}
    client.get("/ok/")
    assert logs.access()[0].levelno == logging.INFO


def test_slow_request_is_logged_even_on_a_sampled_path(client: Client, logs: LogCapture, settings: Any) -> None:
    """Sampling drops routine lines only: a slow request on a rate-0 path is still logged at WARNING."""
    settings.LANTERN = {"SLOW_REQUEST_MS": 0, "ACCESS_LOG_SAMPLE_PATHS": {r"^/ok/$": 0.0}}
    client.get("/ok/")
    records = logs.access()
    assert len(records) == 1 and records[0].levelno == logging.WARNING


def test_access_logger_name_is_configurable(client: Client, settings: Any) -> None:
    """ACCESS_LOGGER names the logger the record goes to."""
    settings.LANTERN = {"ACCESS_LOGGER": "myapp.access"}
    handler = LogCapture()
    logger = logging.getLogger("myapp.access")
    logger.addHandler(handler)
    try:
        client.get("/ok/")
    finally:
        logger.removeHandler(handler)
    assert len(handler.access("myapp.access")) == 1


@pytest.mark.django_db
@override_settings(LANTERN={"LOAD_USER": True})
def test_authenticated_user_id_without_the_view_touching_user(client: Client, logs: LogCapture, user: Any) -> None:
    """With ``LOAD_USER`` a logged-in request's access line has the user id though the view never read
    request.user."""
    client.force_login(user)
    client.get("/ok/")
    (line,) = logs.by_logger("access")
    assert line["user_id"] == user.pk
    assert logs.access()[0].getMessage().endswith(f"user_id={user.pk}")


@pytest.mark.django_db
def test_django_error_line_carries_the_user_id_the_access_line_has(
    client: Client, logs: LogCapture, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user id is decided once per request: Django's 404 line, logged after the view, has it as well."""
    monkeypatch.setattr(logging.getLogger("django.request"), "filters", [])  # keep Django's 4xx line here
    client.force_login(user)
    client.get("/does-not-exist/")
    (django_line,) = logs.by_logger("django.request")
    (access_line,) = logs.by_logger("access")
    assert django_line["user_id"] == access_line["user_id"] == user.pk


@pytest.mark.django_db
def test_user_id_when_the_view_touched_user(client: Client, logs: LogCapture, user: Any) -> None:
    """When the view loaded the user, its own log lines and the access line carry the user id."""
    client.force_login(user)
    client.get("/touch-user/")
    lines = logs.parsed()
    view_line = next(p for p in lines if p["logger"] == "tests.views")
    assert view_line["user_id"] == user.pk
    assert logs.by_logger("access")[0]["user_id"] == user.pk


@pytest.mark.django_db
def test_anonymous_without_session_cookie_never_touches_the_session(
    client: Client, logs: LogCapture, django_assert_num_queries: Any
) -> None:
    """No session cookie: finding the user id runs no query and never accesses the session."""
    with django_assert_num_queries(0):
        client.get("/ok/")
    request = urls_core.seen_requests[-1]
    assert request.session.accessed is False  # type: ignore[attr-defined]
    assert "_cached_user" not in request.__dict__
    assert logs.by_logger("access")[0]["user_id"] is None
    assert logs.access()[0].getMessage().endswith("user_id=None")


@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.django_db(transaction=True)
@override_settings(LANTERN={"LOAD_USER": True})
async def test_async_authenticated_user_id_without_the_view_touching_user(
    async_client: AsyncClient, logs: LogCapture, user: Any
) -> None:
    """With ``LOAD_USER``, on the async path the access line finds the user with ``await request.auser()``."""
    await async_client.aforce_login(user)
    await async_client.get("/async-plain/")
    (line,) = logs.by_logger("access")
    assert line["user_id"] == user.pk


@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.django_db(transaction=True)
async def test_async_anonymous_never_touches_the_session(async_client: AsyncClient, logs: LogCapture) -> None:
    """On the async path an anonymous request without a session cookie leaves the session alone."""
    await async_client.get("/ok/")
    request = urls_core.seen_requests[-1]
    assert request.session.accessed is False  # type: ignore[attr-defined]
    assert "_acached_user" not in request.__dict__ and "_cached_user" not in request.__dict__
    assert logs.by_logger("access")[0]["user_id"] is None


async def test_async_view_that_raises_is_one_error_record(logs: LogCapture) -> None:
    """On the async path a raising view gives one ERROR access record with status 500."""
    client = AsyncClient(raise_request_exception=False)
    response = await client.get("/async-boom/")
    assert response.status_code == 500
    (line,) = logs.by_logger("access")
    assert line["status"] == 500 and line["level"] == "error"
    assert line["request_id"] == response.headers["X-Request-Id"]


@pytest.fixture
def _no_probe_sampling(settings: Any) -> Iterator[None]:
    settings.LANTERN = {}
    yield


@pytest.mark.usefixtures("_no_probe_sampling")
def test_probe_requests_are_access_logged_with_their_path_as_route(client: Client, logs: LogCapture) -> None:
    """A probe answered by the middleware writes its one access record; its route is the probe's path,
    with or without the trailing slash, the same value as its metrics label."""
    client.get("/healthz")
    client.get("/healthz/")
    first, second = logs.by_logger("access")
    assert first["path"] == "/healthz" and first["status"] == 200 and first["route"] == "/healthz"
    assert second["path"] == "/healthz/" and second["route"] == "/healthz"


@pytest.fixture
def default_handler_output(logging_state: None) -> io.StringIO:
    """The access logger writing through ``build_logging_config()``'s handler (in the caller's thread) to a buffer."""
    from django_lantern.logging import build_logging_config

    stream = io.StringIO()
    config = build_logging_config(log_format="json", nonblocking=False)
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    return stream


def _paths(stream: io.StringIO) -> list[tuple[str, int]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [(line["path"], line["status"]) for line in lines if line["logger"] == "access"]


@pytest.mark.usefixtures("_no_probe_sampling")
def test_default_handler_leaves_healthy_probes_out(client: Client, default_handler_output: io.StringIO) -> None:
    """build_logging_config()'s handler writes no line for a fast 2xx /healthz or /readyz/<check>, and
    still writes failing probes, /metrics and every other request."""
    client.get("/healthz")
    client.get("/healthz/", HTTP_USER_AGENT="kube-probe/1.30")
    client.get("/readyz/no-such-check")  # 404: a failing probe
    client.get("/ok/")
    assert _paths(default_handler_output) == [("/readyz/no-such-check", 404), ("/ok/", 200)]


def test_slow_probe_ms_zero_writes_every_probe(
    client: Client, default_handler_output: io.StringIO, settings: Any
) -> None:
    """SLOW_PROBE_MS 0: no probe is fast enough to be left out; its line keeps the chapter's INFO level."""
    settings.LANTERN = {"SLOW_PROBE_MS": 0}
    client.get("/healthz")
    (line,) = [json.loads(line) for line in default_handler_output.getvalue().splitlines()]
    assert line["path"] == "/healthz" and line["level"] == "info"


def test_healthy_probe_record_is_not_built_when_no_handler_writes_it(
    client: Client, default_handler_output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only the default handler on the access logger, a healthy probe costs no record at all."""
    from django_lantern.logging import _access_log

    built: list[object] = []
    real = _access_log.make_access_record
    monkeypatch.setattr(_access_log, "make_access_record", lambda *a, **k: built.append(a) or real(*a, **k))
    access = logging.getLogger("access")
    for step, stock in STOCK_STEPS.items():  # a Sentry test may have left its wrapper, which wants every record
        monkeypatch.setattr(logging.Logger, step, stock)
    # Only the default handler: pytest's capture handlers would want the line.
    monkeypatch.setattr(access, "handlers", [h for h in access.handlers if h.name == "console"])
    client.get("/healthz")
    assert built == []
    client.get("/ok/")  # written straight from its fields (``_access_direct.py``): no record either
    assert built == []
    assert _paths(default_handler_output) == [("/ok/", 200)]


@pytest.mark.usefixtures("_no_probe_sampling")
def test_other_handlers_still_get_healthy_probes_at_info(client: Client, default_handler_output: io.StringIO) -> None:
    """A handler without SkipHealthyProbes (assertLogs, a project's own) still receives the probe's INFO line,
    which the chapter's ``assertLogs("access", level="INFO")`` test relies on; the default handler still skips it."""
    capture = LogCapture()
    logging.getLogger("access").addHandler(capture)
    try:
        client.get("/healthz/")
    finally:
        logging.getLogger("access").removeHandler(capture)
    (record,) = capture.access()
    assert record.levelno == logging.INFO and "path=/healthz/ status=200" in record.getMessage()
    assert _paths(default_handler_output) == []


@pytest.mark.usefixtures("_no_probe_sampling")
@pytest.mark.parametrize("propagate", [True, False])
def test_a_handler_up_the_tree_gets_healthy_probes_only_while_the_access_logger_propagates(
    client: Client, default_handler_output: io.StringIO, monkeypatch: pytest.MonkeyPatch, propagate: bool
) -> None:
    """The handlers a probe's line would reach are those ``logging`` would call: a root handler
    through propagation, and none past a logger that stops it (then no record is built)."""
    from django_lantern.logging import _access_log

    built: list[object] = []
    real = _access_log.make_access_record
    monkeypatch.setattr(_access_log, "make_access_record", lambda *a, **k: built.append(a) or real(*a, **k))
    for step, stock in STOCK_STEPS.items():  # a Sentry test may have left its wrapper, which wants every record
        monkeypatch.setattr(logging.Logger, step, stock)
    access = logging.getLogger("access")
    monkeypatch.setattr(access, "propagate", propagate)
    # Only the default handler on the access logger itself: pytest's capture handlers would want the line.
    monkeypatch.setattr(access, "handlers", [h for h in access.handlers if h.name == "console"])
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        client.get("/healthz")
    finally:
        root.removeHandler(capture)
    assert ["path=/healthz status=200" in r.getMessage() for r in capture.access()] == ([True] if propagate else [])
    assert len(built) == (1 if propagate else 0)
    assert _paths(default_handler_output) == []


@pytest.mark.parametrize(
    ("status", "duration_ms", "outcome", "slow_probe_ms", "healthy"),
    [
        (200, 1.0, "completed", 250.0, True),
        (204, 249.9, "completed", 250.0, True),
        (200, 250.0, "completed", 250.0, False),  # at the threshold: slow
        (503, 1.0, "completed", 250.0, False),
        (404, 1.0, "completed", 250.0, False),
        (200, 1.0, "aborted", 250.0, False),
        (200, 90_000.0, "completed", None, True),
        (200, 0.0, "completed", 0.0, False),
    ],
)
def test_healthy_probe_rule(status: int, duration_ms: float, outcome: str, slow_probe_ms: Any, healthy: bool) -> None:
    """Healthy: 2xx/3xx, complete, faster than SLOW_PROBE_MS (None: however slow; 0: never)."""
    from django_lantern.conf import DEFAULTS, build_settings
    from django_lantern.logging._access_log import healthy_probe

    cfg, errors = build_settings({**DEFAULTS, "SLOW_PROBE_MS": slow_probe_ms})
    assert not errors
    assert healthy_probe(cfg, status, duration_ms, outcome) is healthy
