"""``every_sink``: one failing request seen by every sink a secret could reach.

The request is served twice, through Django's real ``WSGIHandler``: once with
``DEBUG`` off, which Sentry's Django integration wraps (an error event with
its breadcrumbs, a transaction with its spans), our tracer records (server
span, query spans, the exception event), the log capture renders in all five
formats, and the admins' mail handler reports; and once with ``DEBUG`` on,
for the technical 500 page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core import mail
from django.test import Client, RequestFactory, override_settings

from django_lantern.reporting import ScrubbingAdminEmailHandler
from tests.helpers.integrations import SentryEndpoint, flush_sentry
from tests.helpers.sinks import five_formats
from tests.sentry.test_sentry import serve_wsgi


@dataclass
class Seen:
    """What each sink carried for one request, as text to search."""

    sinks: dict[str, str] = field(default_factory=dict)
    sentry_events: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    spans: list[Any] = field(default_factory=list)
    log_lines: dict[str, list[str]] = field(default_factory=dict)

    def assert_absent(self, value: str) -> None:
        for sink, text in self.sinks.items():
            at = text.find(value)
            assert at < 0, f"{value!r} reached {sink}: ...{text[max(0, at - 200) : at + 80]}..."


def _span_text(spans: list[Any]) -> str:
    return json.dumps(
        [[s.name, dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events]] for s in spans], default=str
    )


def _mail_handler() -> ScrubbingAdminEmailHandler:
    (handler,) = (h for h in logging.getLogger("django").handlers if isinstance(h, ScrubbingAdminEmailHandler))
    return handler


@pytest.fixture
def every_sink(
    sentry: Any, sentry_endpoint: SentryEndpoint, tracer_provider: Any, settings: Any
) -> Iterator[Callable[..., Seen]]:
    """``every_sink(path, lantern={...})`` serves ``path`` and returns what each sink carried."""
    assert sentry(traces_sample_rate=1.0)
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.DEBUG = False

    def serve(path: str, lantern: dict[str, Any] | None = None) -> Seen:
        mail_handler = _mail_handler()
        mail_handler._sent.clear()
        mail.outbox.clear()
        with override_settings(LANTERN=lantern or {}):
            status, _, _ = serve_wsgi(RequestFactory().get(path).environ)
            flush_sentry()
            mail_handler.flush(5.0)
            with override_settings(DEBUG=True):
                page = Client(raise_request_exception=False).get(path, HTTP_ACCEPT="text/html")
        seen = Seen(
            sentry_events=sentry_endpoint.events(),
            transactions=sentry_endpoint.events("transaction"),
            spans=list(tracer_provider.exporter.get_finished_spans()),
            log_lines={name: list(lines) for name, lines in handler.lines.items()},
        )
        seen.sinks = {f"the {name} log lines": "\n".join(lines) for name, lines in seen.log_lines.items()}
        seen.sinks["the Sentry error event"] = json.dumps(seen.sentry_events)
        seen.sinks["the Sentry breadcrumbs"] = json.dumps([e.get("breadcrumbs") for e in seen.sentry_events])
        seen.sinks["the Sentry transaction"] = json.dumps(seen.transactions)
        seen.sinks["the spans"] = _span_text(seen.spans)
        seen.sinks["the admins' mail"] = "\n".join(
            f"{m.subject}\n{m.body}\n{''.join(str(a[0]) for a in getattr(m, 'alternatives', []))}" for m in mail.outbox
        )
        seen.sinks["the DEBUG page"] = page.content.decode()
        seen.sinks["everything Sentry received"] = sentry_endpoint.everything()
        assert status.startswith("500") and page.status_code == 500, (status, page.status_code)
        # Each sink really saw the failure, so an absent value is a scrubbed one.
        assert seen.sentry_events and seen.transactions and mail.outbox and seen.spans
        return seen

    with five_formats() as handler:
        yield serve
