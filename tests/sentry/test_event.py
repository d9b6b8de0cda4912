"""django_lantern.sentry._event: the request part of an event."""

from __future__ import annotations

from django_lantern.scrubbing import Scrubber
from django_lantern.sentry._event import clean_request

RAW_TARGET = "/cb/?code=one-time-code-77&next=https%3A%2F%2Fapp%3Anested-pw-77%40db.internal%2F&page=2"


def test_raw_request_targets_in_the_environment_are_scrubbed_like_the_query() -> None:
    """gunicorn's RAW_URI and REQUEST_URI hold the raw query: scrubbed by parameter name, nested URLs too."""
    req = {"env": {"RAW_URI": RAW_TARGET, "REQUEST_URI": RAW_TARGET, "SERVER_NAME": "app"}}
    clean_request(req, None, Scrubber(), keep_ip=False)
    for key in ("RAW_URI", "REQUEST_URI"):
        shown = req["env"][key]
        assert "one-time-code-77" not in shown and "nested-pw-77" not in shown, shown
        assert shown.startswith("/cb/?code=[redacted]") and "page=2" in shown
    assert req["env"]["SERVER_NAME"] == "app"
