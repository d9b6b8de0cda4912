"""The static-asset rule: STATIC_URL and MEDIA_URL paths of this site, and the files browsers fetch unasked."""

from __future__ import annotations

from typing import Any

import pytest

from django_lantern.http._assets import is_static_asset


@pytest.mark.parametrize(
    ("static_url", "media_url", "path", "expected"),
    [
        ("static/", "", "/static/admin/css/base.css", True),
        ("static/", "", "/staticky/page/", False),
        ("static/", "", "/", False),
        ("static/", "/uploads/", "/uploads/a.png", True),
        ("static/", "", "/favicon.ico", True),
        ("static/", "", "/apple-touch-icon.png", True),
        ("static/", "", "/orgs/favicon.ico", False),
        ("https://cdn.example.com/static/", "", "/static/site.css", False),
        ("//cdn.example.com/static/", "", "/static/site.css", False),
        ("/", "", "/orgs/", False),
    ],
)
def test_is_static_asset(settings: Any, static_url: str, media_url: str, path: str, expected: bool) -> None:
    settings.STATIC_URL, settings.MEDIA_URL = static_url, media_url
    assert is_static_asset(path) is expected


def test_a_changed_static_url_is_seen(settings: Any) -> None:
    settings.STATIC_URL = "/assets/"
    assert is_static_asset("/assets/app.js")
    settings.STATIC_URL = "/static/"
    assert not is_static_asset("/assets/app.js")
