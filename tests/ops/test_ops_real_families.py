"""The page's queries per request and DB share, read from the families the middleware really fills
(``http_server_request_db_queries`` / ``http_server_request_db_duration_seconds``), not from samples
written by hand: a renamed family would leave the page's columns empty and this test red."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import Client

from django_lantern.ops import _page, _snapshot

pytestmark = [pytest.mark.urls("tests.urls_cost"), pytest.mark.django_db(transaction=True)]
ROUTE = "/sync/<int:n>/"


@pytest.fixture
def fresh_metrics() -> Iterator[None]:
    from django_lantern.metrics import _families, _recorder

    _families.get_families.cache_clear()
    _recorder._state.cache_clear()
    caches["default"].clear()
    yield
    caches["default"].clear()


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
    assert (queries, requests) == (26, 3) and db_seconds and latency

    taken = _snapshot.take()["routes"][ROUTE]
    assert (taken["dbq"], taken["dbs"]) == (queries, pytest.approx(db_seconds))

    (row,) = [r for r in _page.build(now=time.time())["routes"]["db"] if r["route"] == ROUTE]
    assert row["count"] == 3
    assert row["queries"] == pytest.approx(queries / requests)
    assert row["db_share"] == pytest.approx(db_seconds / latency)
