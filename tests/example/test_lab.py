"""The chapter's lab (21.13), item by item, through the example project."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from django_lantern.logging import JsonFormatter, TextFormatter
from tasks.models import Org
from tests.example.logs import ACCESS_LOGGER, records_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/healthz/", "/readyz/", "/orgs/", "/accounts/login/", "/no-such-page/"])
def test_every_response_carries_a_request_id_header(client: Client, path: str) -> None:
    """Item 7: responses, redirects and 404s included, carry a non-empty X-Request-Id."""
    response = client.get(path)
    assert response.headers.get("X-Request-Id")


def test_each_request_gets_its_own_id(client: Client) -> None:
    """Two requests get two different ids."""
    assert client.get("/").headers["X-Request-Id"] != client.get("/").headers["X-Request-Id"]


def test_a_valid_incoming_request_id_is_echoed(client: Client) -> None:
    """An id from the load balancer is kept, so its logs and ours correlate."""
    response = client.get("/", headers={"X-Request-Id": "lb-7f3a9c2e"})
    assert response.headers["X-Request-Id"] == "lb-7f3a9c2e"


def test_a_forged_incoming_request_id_is_replaced(client: Client, logs: pytest.LogCaptureFixture) -> None:
    """An id that could forge a log field is replaced, and never reaches a log line."""
    response = client.get("/", headers={"X-Request-Id": "x user_id=1"})
    assert response.headers["X-Request-Id"] != "x user_id=1"
    assert all("x user_id=1" not in r.getMessage() for r in logs.records)


def test_access_log_line_per_request_with_request_id(client: Client, logs: pytest.LogCaptureFixture) -> None:
    """Item 4: exactly one access record per request, carrying that response's request id."""
    response = client.get("/")
    (record,) = records_of(logs.records, ACCESS_LOGGER)
    assert record.request_id == response.headers["X-Request-Id"]  # type: ignore[attr-defined]
    message = record.getMessage()
    assert "method=GET" in message
    assert "path=/ " in message
    assert "status=200" in message
    assert "duration_ms=" in message


def test_access_log_for_a_404_is_a_warning(client: Client, logs: pytest.LogCaptureFixture) -> None:
    """A 4xx is logged at WARNING, still once, with its status."""
    client.get("/no-such-page/")
    (record,) = records_of(logs.records, ACCESS_LOGGER)
    assert record.levelname == "WARNING"
    assert "status=404" in record.getMessage()


def test_terminal_lines_show_the_request_id(client: Client, logs: pytest.LogCaptureFixture) -> None:
    """Item 8: the text and JSON lines written to the terminal include the request id."""
    rid = client.get("/").headers["X-Request-Id"]
    (record,) = records_of(logs.records, ACCESS_LOGGER)
    assert f"request_id={rid}" in TextFormatter().format(record)
    assert json.loads(JsonFormatter().format(record))["request_id"] == rid


def test_app_log_lines_carry_the_request_id(
    client: Client, logs: pytest.LogCaptureFixture, org: Org, owner: Any
) -> None:
    """Items 2-3: a line logged deep in a view carries the id of the request it belongs to."""
    client.force_login(owner)
    rid = client.get(f"/orgs/{org.slug}/tasks/export.csv").headers["X-Request-Id"]
    (record,) = records_of(logs.records, "tasks.views")
    assert record.request_id == rid  # type: ignore[attr-defined]
    assert record.route == "/orgs/<slug:slug>/tasks/export.csv"  # type: ignore[attr-defined]


def test_no_request_id_outside_a_request(logs: pytest.LogCaptureFixture) -> None:
    """Outside a request the context fields are "-", not the last request's values."""
    logging.getLogger("tasks.views").info("background job")
    (record,) = records_of(logs.records, "tasks.views")
    assert record.request_id == "-"  # type: ignore[attr-defined]


def test_readyz_is_ready_when_the_database_answers(client: Client) -> None:
    """Items 5-6: /readyz is 200 with status "ready" and the database reported ok."""
    response = client.get("/readyz/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["db"] == "ok"
