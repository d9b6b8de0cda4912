"""http/_response_headers.py: Django's 4xx/5xx line on django.request, never for a probe's answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings

from tests.conftest import CORE_URLS

pytestmark = [pytest.mark.django_db]

FAILING = {"READINESS_CHECKS": ["tests.metrics.urls_boom.failing_check"]}
PROBE_ANSWERS = [
    ("/readyz", 503),
    ("/readyz/custom:failing_check", 503),
    ("/readyz/no-such-check", 404),
    ("/healthz", 405),
    ("/metrics", 405),
]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def django_request_records(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every record Django writes on django.request, its 4xx WARNINGs included
    (which build_logging_config() drops as repeats of the access line)."""
    collect = _Collect()
    logger = logging.getLogger("django.request")
    monkeypatch.setattr(logger, "filters", [])
    logger.addHandler(collect)
    try:
        yield collect.records
    finally:
        logger.removeHandler(collect)


@pytest.mark.urls(CORE_URLS)
@pytest.mark.parametrize(("path", "status"), PROBE_ANSWERS)
def test_a_probe_answer_never_reaches_django_request(
    client: Client, settings: Any, django_request_records: list[logging.LogRecord], path: str, status: int
) -> None:
    """A failing or refused probe answered by the middleware writes nothing on django.request, so no mail."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.DEBUG = False
    mail.outbox.clear()
    with override_settings(LANTERN=FAILING):
        response = client.post(path) if status == 405 else client.get(path)
    assert response.status_code == status
    assert django_request_records == []
    assert mail.outbox == []


@pytest.mark.urls(CORE_URLS)
def test_a_routed_probe_answer_never_reaches_django_request(
    client: Client, django_request_records: list[logging.LogRecord]
) -> None:
    """Served by django_lantern.urls (the middleware's probe paths off), a 503 stays off django.request too."""
    with override_settings(LANTERN={**FAILING, "HEALTHZ_PATH": None, "READYZ_PATH": None}):
        response = client.get("/readyz")
    assert response.status_code == 503, response
    assert django_request_records == []


@pytest.mark.urls(CORE_URLS)
def test_other_errors_still_reach_django_request(
    client: Client, django_request_records: list[logging.LogRecord]
) -> None:
    """An application 404 is still Django's line on django.request (written once, inside the context)."""
    assert client.get("/does/not/exist/").status_code == 404
    (record,) = django_request_records
    assert record.levelno == logging.WARNING and record.getMessage() == "Not Found: /does/not/exist/"
