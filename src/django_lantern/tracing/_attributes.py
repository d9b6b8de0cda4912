"""The server span's start attributes (HTTP semantic conventions), bounded and scrubbed.

Client-sized values (path, query string, host, user agent) are cut with a
marker saying how much went, and every attribute passes through the scrubber.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_lantern._errors import report_internal_error
from django_lantern.scrubbing import get_scrubber, scrub
from django_lantern.scrubbing._cut import capped

if TYPE_CHECKING:
    from django.http import HttpRequest

STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
_USER_AGENT_LIMIT = 512
_HOST_LIMIT = 255
# Client-sized attributes are cut (a 142 kB query string once became a
# 100,046-character attribute); the marker says how much went.
URL_QUERY_LIMIT = 2048
URL_PATH_LIMIT = 2048


def _split_host(host: str) -> tuple[str, int | None]:
    host = host[:_HOST_LIMIT]
    if host.startswith("["):  # [::1]:8000
        address, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        address, _, port = host.partition(":")
    return address, int(port) if port.isdigit() and len(port) <= 5 else None


def start_attributes(request: HttpRequest, method: str) -> dict[str, Any]:
    meta = request.META
    attrs: dict[str, Any] = {
        "http.request.method": method,
        "url.path": capped(request.path, URL_PATH_LIMIT),
        "url.scheme": request.scheme or "http",
    }
    if method == "_OTHER":
        attrs["http.request.method_original"] = (request.method or "")[:32]
    query = meta.get("QUERY_STRING")
    if query:
        # Cut before scrubbing (bounded work), and again after: scrubbing
        # can lengthen it ("[redacted]", percent-encoding).
        attrs["url.query"] = capped(str(query), URL_QUERY_LIMIT, get_scrubber().scrub_query_string)
    host = meta.get("HTTP_HOST") or meta.get("SERVER_NAME")
    if isinstance(host, str) and host:
        address, port = _split_host(host)
        attrs["server.address"] = address
        if port is not None:
            attrs["server.port"] = port
    agent = meta.get("HTTP_USER_AGENT")
    if isinstance(agent, str) and agent:
        attrs["user_agent.original"] = agent[:_USER_AGENT_LIMIT]
    protocol = meta.get("SERVER_PROTOCOL")
    if isinstance(protocol, str) and protocol.startswith("HTTP/"):
        attrs["network.protocol.version"] = protocol[5:]
    return attrs


def scrubbed(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` through the scrubber; if the scrubber raises, none of them (the failure counted).

    A value that could not be scrubbed is never sent: the span then keeps
    only what its caller set without this, which cannot carry a secret.
    """
    try:
        cleaned = scrub(attributes)
    except Exception as exc:
        report_internal_error("scrub:span", exc)
        return {}
    return cleaned if isinstance(cleaned, dict) else {}
