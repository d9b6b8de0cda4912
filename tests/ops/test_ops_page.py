"""The operations page through its URL: who may see it, what it shows, what it records, a failing cache."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import caches
from django.test import Client, override_settings

from django_lantern.ops import _record, _store

pytestmark = pytest.mark.django_db
OPS = "/ops/"


@pytest.fixture(autouse=True)
def clean_ops() -> Iterator[None]:
    _record.start()
    _record.buffer.take()
    caches["default"].clear()
    yield
    _record.buffer.take()
    caches["default"].clear()


def _user(username: str, *, staff: bool = False) -> User:
    return User.objects.create_user(username, password="pw-" + username, is_staff=staff)


def _client(user: User | None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _page(client: Client, **params: str) -> str:
    response = client.get(OPS, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_anonymous_users_go_to_login() -> None:
    response = _client(None).get(OPS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/ops/")


def test_non_staff_users_are_refused() -> None:
    assert _client(_user("member")).get(OPS).status_code == 403
    inactive = _user("gone", staff=True)
    inactive.is_active = False
    inactive.save()
    assert _client(inactive).get(OPS).status_code in (302, 403)


def test_staff_see_the_page_and_are_told_local_memory_shows_one_process() -> None:
    html = _page(_client(_user("boss", staff=True)))
    assert "<h1>Operations</h1>" in html
    assert "this page shows <strong>one process</strong>" in html
    assert 'id="total-requests"' in html


def test_a_permission_can_replace_staff() -> None:
    staff, holder = _user("boss", staff=True), _user("oncall")
    holder.user_permissions.add(Permission.objects.get(codename="view_user"))
    with override_settings(LANTERN={"OPS_PERMISSION": "auth.view_user"}):
        assert _client(staff).get(OPS).status_code == 403
        assert _client(User.objects.get(pk=holder.pk)).get(OPS).status_code == 200


def test_an_unhandled_exception_is_listed_with_its_request_id_and_the_id_box_finds_it() -> None:
    staff = _user("boss", staff=True)
    client = _client(staff)
    failed = client.post("/raise-error/")
    assert failed.status_code == 500
    request_id = failed["X-Request-Id"]
    _record.flush()
    html = _page(client)
    assert "pages.views.DeliberateError" in html
    assert request_id in html
    found = _page(client, request_id=request_id)
    assert 'id="found"' in found and "exception" in found.split('id="found"', 1)[1]
    missing = _page(client, request_id="not-seen-anywhere-1234")
    assert "No recent error, slow-request or N+1 record carries" in missing


def _insight(**fields: Any) -> None:
    logging.getLogger("lantern.db").warning("insight", extra=fields)


def test_n_plus_one_and_slow_query_records_are_shown_with_their_callsite() -> None:
    # Exactly the shape the lantern.db records have (issue 22): insight, the statement, callsite, route, request id.
    n_plus_one = {"fingerprint": "SELECT ... FROM tasks_author WHERE id = ?", "count": 10}
    _insight(
        insight="n_plus_one",
        callsite="pages/views.py:25",
        route="orgs/<slug:slug>/tasks/",
        request_id="req-n-plus-one-1",
        **n_plus_one,
    )
    slow = {"sql": "SELECT * FROM tasks_task WHERE note = 'password=hunter2'", "db_ms": 812.5}
    _insight(insight="slow_query", callsite="tasks/views.py:40", route="orgs/", request_id="req-slow-query-1", **slow)
    _insight(insight="something_else", fingerprint="x")  # not the page's
    _record.flush()
    client = _client(_user("boss", staff=True))
    html = _page(client)
    assert "SELECT ... FROM tasks_author WHERE id = ?" in html and "pages/views.py:25" in html
    assert "tasks/views.py:40" in html and "812.5 ms" in html
    assert "hunter2" not in html
    found = _page(client, request_id="req-n-plus-one-1").split('id="found"', 1)[1]
    assert "N+1 query" in found and "pages/views.py:25" in found


def test_records_are_bounded() -> None:
    for n in range(_record.MAX_GROUPS + 50):
        _insight(insight="n_plus_one", fingerprint=f"SELECT {n}", count=5, callsite="a.py:1", route="r", request_id="x")
    taken = _record.buffer.take()
    assert taken is not None
    assert len(taken["insights"]) == _record.MAX_GROUPS and taken["dropped"] == 50
    _insight(insight="n_plus_one", fingerprint="S" * 100_000, count=5, callsite="c" * 10_000, route="r", request_id="y")
    group = _record.buffer.take()["insights"][0]  # type: ignore[index]
    assert len(group["shape"]) < _record.MAX_SQL + 50 and len(group["callsite"]) < _record.MAX_TEXT + 50


def test_slow_requests_are_listed() -> None:
    with override_settings(LANTERN={"SLOW_REQUEST_MS": 0}):  # the page follows the setting
        response = _client(None).get("/healthz/")  # probes are not the app's requests
        page = _client(None).get("/accounts/login/")
    _record.flush()
    html = _page(_client(_user("boss", staff=True)), request_id=page["X-Request-Id"])
    assert "slow request" in html.split('id="found"', 1)[1]
    assert response["X-Request-Id"] not in html


def test_a_failing_cache_is_said_and_the_app_is_unaffected() -> None:
    staff = _user("boss", staff=True)
    client = _client(staff)
    with mock.patch.object(_store, "read_batches", side_effect=ConnectionError("down")):
        html = _page(client)
    assert "The cache is unavailable" in html
    with mock.patch.object(_store, "write_batch", side_effect=ConnectionError("down")):
        assert client.post("/raise-error/").status_code == 500
        _record.flush()  # never raises: the next round tries again
    assert _client(None).get("/accounts/login/").status_code == 200


def test_the_log_level_form_uses_the_command_s_code_and_audits_the_user(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    staff = _user("boss", staff=True)
    client = _client(staff)
    # Local memory reaches no other process: the form says so, as the command does.
    refused = client.post(OPS, {"logger": "django.request", "level": "DEBUG", "action": "set"})
    assert refused.status_code == 400 and "cannot reach the server processes" in refused.content.decode()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the one-host store
    with caplog.at_level(logging.WARNING, logger="lantern.audit"):
        response = client.post(OPS, {"logger": "django.request", "level": "DEBUG", "duration": "5m", "action": "set"})
    assert response.status_code == 200
    assert "django.request is DEBUG until" in response.content.decode()
    audit = [r for r in caplog.records if r.name == "lantern.audit"]
    assert len(audit) == 1 and audit[0].actor == f"user {staff.pk} (ops page)"  # type: ignore[attr-defined]
    bad = client.post(OPS, {"logger": "no.such.logger.anywhere", "level": "DEBUG", "action": "set"})
    assert bad.status_code == 400
    client.post(OPS, {"logger": "django.request", "action": "reset"})
    assert _client(_user("member")).post(OPS, {"logger": "x", "level": "DEBUG"}).status_code == 403


def test_the_form_says_when_the_shared_store_is_down(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    client = _client(_user("boss", staff=True))
    with mock.patch("django_lantern.ops._view.set_level", side_effect=ConnectionError("down")):
        response = client.post(OPS, {"logger": "django.request", "level": "DEBUG", "action": "set"})
    assert response.status_code == 400
    assert "the shared store did not answer (ConnectionError)" in response.content.decode()


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("OPS_PERMISSION", "view_ops", 'a permission "app_label.codename"'),
        ("OPS_PERMISSION", 7, 'a permission "app_label.codename"'),
        ("OPS_CACHE", "nope", "an alias of CACHES ('default')"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(key: str, value: object, says: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from django_lantern.conf import get_settings

    with override_settings(LANTERN={key: value}), pytest.raises(ImproperlyConfigured, match=f"{key}.*") as refused:
        get_settings()
    assert says in str(refused.value)
