"""Reading ``Forwarded`` and ``X-Forwarded-For``: the hops they name, as hosts.

Both headers are written by whoever sent the request, so what they say is
believed only from a trusted proxy (``_client_ip.py``). They are also the
trace a server leaves when it swaps the socket's peer for a forwarded hop
(``_networks.peer``), so both modules read them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def host_of(value: str) -> str:
    """A hop without quotes and port: ``"[2001:db8::1]:4711"`` is ``2001:db8::1``, ``192.0.2.1:80`` is ``192.0.2.1``."""
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else ""
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def forwarded_for(element: str) -> str:
    """The ``for=`` host of one RFC 7239 element, or ``""``."""
    for pair in element.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "for":
            return host_of(value)
    return ""


def names_host(meta: Mapping[str, Any], host: str) -> bool:
    """Whether ``host`` is one of the hops ``X-Forwarded-For`` or ``Forwarded`` name."""
    if not host:
        return False
    xff = meta.get("HTTP_X_FORWARDED_FOR")
    # The substring test first: no split unless the host could be in there.
    if isinstance(xff, str) and host in xff:
        for hop in xff.split(","):
            if host in (hop.strip(), host_of(hop)):
                return True
    forwarded = meta.get("HTTP_FORWARDED")
    if isinstance(forwarded, str) and host in forwarded:
        return any(host == forwarded_for(element) for element in forwarded.split(","))
    return False
