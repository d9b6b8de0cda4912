"""The page's queries per request and DB share, read from the families the middleware really fills
(``http_server_request_db_queries`` / ``http_server_request_db_duration_seconds``), not from samples
written by hand: a renamed family would leave the page's columns empty and this test red."""

from __future__ import annotations

import time
from collections.abc import Iterator
from html import escape

import pytest
from django.test import Client, override_settings

from django_lantern.ops import _page, _snapshot, _store

pytestmark = [pytest.mark.urls("tests.urls_cost"), pytest.mark.django_db(transaction=True)]
ROUTE = "/sync/<int:n>/"


@pytest.fixture
def fresh_metrics() -> Iterator[None]:
    from django_lantern.metrics import _families, _recorder

    _families.get_families.cache_clear()
    _recorder._state.cache_clear()
    _store.cache().clear()  # no minute snapshot from another test: the page reads this registry
    yield
    _store.cache().clear()


def test_per_route_queries_and_db_share_come_from_the_real_families(fresh_metrics: None) -> None:
    from prometheus_client import REGISTRY

    client = Client()
    for n in (25, 1, 0):
        assert client.get(f"/sync/{n}/").status_code == 200
    labels = {"route": ROUTE}
    queries = REGISTRY.get_sample_value("http_server_request_db_queries_sum", labels)
    requests = REGISTRY.get_sample_value("http_server_request_db_queries_count", labels)
    db_seconds = REGISTRY.get_sample_value("http_server_request_db_duration_seconds_sum", labels)
    latency = REGISTRY.get_sample_value("http_server_request_duration_seconds_sum", {**labels, "method": "GET"})
    served = REGISTRY.get_sample_value("http_server_request_duration_seconds_count", {**labels, "method": "GET"})
    # The DB histograms count the requests that ran a query; the page divides by every request.
    assert (queries, requests, served) == (26, 2, 3) and db_seconds and latency

    taken = _snapshot.take()["routes"][ROUTE]
    assert (taken["dbq"], taken["dbs"]) == (queries, pytest.approx(db_seconds))

    (row,) = [r for r in _page.build(now=time.time())["routes"]["db"] if r["route"] == ROUTE]
    assert row["count"] == 3
    assert row["queries"] == pytest.approx(queries / served)
    assert row["db_share"] == pytest.approx(db_seconds / latency)


def test_a_real_n_plus_one_is_found_by_its_response_s_request_id(fresh_metrics: None) -> None:
    """lantern.db's own record (no request id or route among its fields): the page takes them from the request."""
    from django.contrib.auth.models import User

    from django_lantern.metrics import _insights
    from django_lantern.ops import _record

    _insights.reset()  # a WARNING per route and statement per interval: this test's must be written
    _record.start()
    _record.buffer.take()
    response = Client().get("/sync/25/")
    request_id = response.headers["X-Request-Id"]
    _record.flush()
    staff = Client()
    staff.force_login(User.objects.create_user("boss", is_staff=True))
    with override_settings(ROOT_URLCONF="config.urls"):  # the example's, which includes the page
        html = staff.get("/ops/", {"request_id": request_id}).content.decode()
    found = html.split('id="found"', 1)[1].split("</table>", 1)[0]
    assert "N+1 query" in found and "tests/urls_cost.py:" in found and f"<code>{escape(ROUTE)}</code>" in found
