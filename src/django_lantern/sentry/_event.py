"""The request's part of a Sentry event: context tags, the user, the request data.

Used by :func:`django_lantern.sentry.process_event` before the scrubber runs
over the whole event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_lantern.context import UNKNOWN, RequestContext
from django_lantern.http._users import known_user_id
from django_lantern.scrubbing import RAW_TARGET_ENVIRON_KEYS, replace_url_path
from django_lantern.scrubbing._cut import capped
from django_lantern.tracing._attributes import URL_QUERY_LIMIT

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_lantern.scrubbing import Scrubber

Event = dict[str, Any]

# Headers that identify the client's address; kept only if "ip_address" is
# among ``user_fields``, like the IP itself.
_IP_HEADERS = frozenset({"x-forwarded-for", "x-real-ip", "forwarded", "cf-connecting-ip", "true-client-ip"})
_ENV_IP_KEYS = ("REMOTE_ADDR",)
# Headers whose value is a URL, with the query string of another request.
_URL_HEADERS = frozenset({"referer", "origin", "location"})


def add_context(event: Event, ctx: RequestContext | None) -> None:
    """Tag the event with the request id, the route and the trace id."""
    if ctx is None:
        return
    tags = event.get("tags")
    if not isinstance(tags, dict):
        tags = event["tags"] = dict(tags) if isinstance(tags, list) else {}
    tags["request_id"] = ctx.request_id
    route = ctx.route
    if route != UNKNOWN:
        tags["route"] = route
    if ctx.trace_id != UNKNOWN:
        tags["trace_id"] = ctx.trace_id


def _user_id(ctx: RequestContext | None) -> object:
    if ctx is None:
        return None
    try:
        return known_user_id(ctx)
    except Exception:
        return None


def reduce_user(event: Event, ctx: RequestContext | None, allowed: frozenset[str]) -> None:
    """Keep only the ``allowed`` user fields; the id comes from the request context."""
    user = event.get("user")
    kept: dict[str, Any] = {}
    if isinstance(user, dict):
        kept = {k: v for k, v in user.items() if k in allowed}
    if "id" in allowed:
        uid = _user_id(ctx)
        if uid is not None:
            kept["id"] = str(uid)
    if kept:
        event["user"] = kept
    else:
        event.pop("user", None)


def clean_request(
    req: dict[str, Any], request: HttpRequest | None, scrubber: Scrubber, *, keep_ip: bool, path: str | None = None
) -> None:
    """Scrub and cap the event's request: URL (its path replaced by ``path``, the
    redacted one, when given), query, headers, environment, body."""
    # Client-sized values are capped as on spans: sentry-sdk no longer cuts
    # them, and a 142 kB query string would otherwise travel whole.
    if isinstance(req.get("url"), str):
        url = req["url"] if path is None else replace_url_path(req["url"], path)
        req["url"] = capped(url, URL_QUERY_LIMIT, scrubber.scrub_url)
    if isinstance(req.get("query_string"), str):
        req["query_string"] = capped(req["query_string"], URL_QUERY_LIMIT, scrubber.scrub_query_string)
    headers = req.get("headers")
    if isinstance(headers, dict):
        for name in [h for h in headers if isinstance(h, str)]:
            lowered = name.lower()
            if lowered in _IP_HEADERS and not keep_ip:
                del headers[name]
            elif isinstance(headers[name], str):
                scrub = scrubber.scrub_url if lowered in _URL_HEADERS else None
                headers[name] = capped(headers[name], URL_QUERY_LIMIT, scrub)
    env = req.get("env")
    if isinstance(env, dict):
        if not keep_ip:
            for key in _ENV_IP_KEYS:
                env.pop(key, None)
        for key in RAW_TARGET_ENVIRON_KEYS:
            if isinstance(env.get(key), str):
                env[key] = capped(env[key], URL_QUERY_LIMIT, scrubber.scrub_url)
    if "data" in req:
        sensitive = getattr(request, "sensitive_post_parameters", None) if request is not None else None
        req["data"] = scrubber.scrub_post_data(req["data"], sensitive)
