"""Exemplars: a sampled request's trace id on its latency bucket, in the OpenMetrics exposition only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families

from django_lantern.metrics import _exemplars as exemplars
from django_lantern.metrics import _recorder as recorder
from tests.metrics.conftest import OPENMETRICS, promtool_check_openmetrics

pytestmark = [pytest.mark.urls("tests.metrics.urls_traced"), pytest.mark.django_db]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
LATENCY = "http_server_request_duration_seconds"


def scrape(client: Client, accept: str = OPENMETRICS) -> str:
    response = client.get("/metrics", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    return response.content.decode()


def latency_exemplars(text: str) -> list[tuple[dict[str, str], Any]]:
    """``(bucket labels, exemplar)`` of every latency bucket that carries one."""
    found = []
    for family in openmetrics_families(text):
        if family.name == LATENCY:
            found.extend((dict(s.labels), s.exemplar) for s in family.samples if s.exemplar is not None)
    return found


def test_sampled_request_puts_its_trace_on_the_latency_bucket(traced: Any, client: Client, tmp_path: Path) -> None:
    """The bucket the request fell into carries its trace and span id; the scrape parses with
    prometheus_client's OpenMetrics parser and with Prometheus's own (promtool)."""
    response = client.get("/traced/plain/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01")
    assert response.status_code == 200
    (span,) = traced.spans()
    text = scrape(client)
    found = latency_exemplars(text)
    assert found, text
    ((labels, exemplar),) = [(labels, e) for labels, e in found if labels["route"] == "/traced/plain/"]
    assert exemplar.labels == {"trace_id": TRACE_ID, "span_id": format(span.context.span_id, "016x")}
    # The exemplar is the observation itself: within its bucket's bound, positive, timestamped.
    assert 0 < exemplar.value <= float(labels["le"])
    assert exemplar.timestamp is not None
    result = promtool_check_openmetrics(text, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_later_sampled_request_replaces_the_exemplar(traced: Any, client: Client) -> None:
    """A bucket shows a recent request: the second sampled request's trace, not the first's."""
    other = "1" * 32
    client.get("/traced/plain/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01")
    client.get("/traced/plain/", HTTP_TRACEPARENT=f"00-{other}-{PARENT_ID}-01")
    ids = {
        e.labels["trace_id"] for labels, e in latency_exemplars(scrape(client)) if labels["route"] == "/traced/plain/"
    }
    assert other in ids


def test_unsampled_request_leaves_no_exemplar(traced: Any, client: Client) -> None:
    """A trace the caller did not sample (flags 00) was never exported: no exemplar points at it."""
    response = client.get("/traced/plain/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-00")
    assert response.status_code == 200
    assert traced.spans() == ()
    assert latency_exemplars(scrape(client)) == []


def test_no_exemplar_without_tracing(client: Client) -> None:
    """With tracing off nothing is attached, even with a valid sampled traceparent."""
    client.get("/traced/plain/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01")
    assert latency_exemplars(scrape(client)) == []


def test_prometheus_text_format_has_no_exemplars(traced: Any, client: Client) -> None:
    """The 0.0.4 text format cannot carry exemplars; only OpenMetrics shows them."""
    client.get("/traced/plain/", HTTP_TRACEPARENT=f"00-{TRACE_ID}-{PARENT_ID}-01")
    assert TRACE_ID not in scrape(client, accept="text/plain")
    assert TRACE_ID in scrape(client)


def test_multiprocess_mode_does_not_look_exemplars_up(
    traced: Any, client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under PROMETHEUS_MULTIPROC_DIR the client would drop exemplars, so the recorder skips the work."""
    calls: list[int] = []
    real = exemplars.current_exemplar
    monkeypatch.setattr(exemplars, "current_exemplar", lambda: calls.append(1) or real())
    recorder.request_finished("GET", "traced/plain/", 200, 0.01, probe=False)
    assert calls == [1]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    recorder._state.cache_clear()
    assert not exemplars.supported()
    recorder.request_finished("GET", "traced/plain/", 200, 0.01, probe=False)
    assert calls == [1]


def test_tracing_off_does_not_look_exemplars_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a tracer there is no span to link: the recorder does not ask for one."""
    calls: list[int] = []
    monkeypatch.setattr(exemplars, "current_exemplar", lambda: calls.append(1))
    recorder.request_finished("GET", "traced/plain/", 200, 0.01, False)
    assert calls == []


async def test_async_path_carries_the_exemplar_too(traced: Any, async_client: Any) -> None:
    """Under ASGI the middleware's async path observes latency with the same exemplar."""
    response = await async_client.get("/traced/plain/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    assert response.status_code == 200
    metrics = await async_client.get("/metrics", headers={"accept": OPENMETRICS})
    found = latency_exemplars(metrics.content.decode())
    assert {e.labels["trace_id"] for labels, e in found if labels["route"] == "/traced/plain/"} == {TRACE_ID}
