"""The peer the socket saw, and checks of it against CIDR lists (``/metrics``, trusted proxies).

:func:`peer` is the one answer to "who connected": ``/metrics`` access,
``REQUEST_ID_TRUSTED_NETWORKS`` and the access line's ``client_ip`` all ask it.
Under WSGI it is ``REMOTE_ADDR``. Under ASGI ``REMOTE_ADDR`` is the scope's
``client``, which a server may already have replaced with a hop of
``X-Forwarded-For``: uvicorn does by default (``--proxy-headers`` on,
``--forwarded-allow-ips`` 127.0.0.1 and ::1), daphne and hypercorn when asked.
A local proxy, or any local process, could then choose the address that
``/metrics`` admits. Such a server only ever writes a hop of the header into
``client``, so under ASGI a peer that the forwarded headers name is taken as
unknown: nothing is admitted on its strength, and one WARNING says how to turn
the server's rewrite off.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django_lantern._validators import Network
from django_lantern.http._forwarded import names_host

logger = logging.getLogger("django_lantern")

REWRITTEN_PEER_WARNING = (
    "The server replaced the client address with a hop of X-Forwarded-For (uvicorn does by default "
    "for connections from 127.0.0.1 and ::1): django-lantern treats such a peer as unknown, so "
    "METRICS_ALLOWED_NETWORKS and REQUEST_ID_TRUSTED_NETWORKS admit no request on its strength and "
    "client_ip is null. Start uvicorn with --no-proxy-headers (uvicorn.run(..., proxy_headers=False); "
    "daphne and hypercorn: leave their proxy-header options off) and list your proxies in "
    "LANTERN['TRUSTED_PROXIES']. Logged once per process."
)
_warned = False

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """An IP address, an IPv4-mapped IPv6 one as the IPv4 address it maps; None when invalid."""
    text = text.strip()
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Peer(NamedTuple):
    """The peer the server saw, parsed, and its canonical text."""

    address: Address
    text: str


# REMOTE_ADDR repeats (a load balancer, a few clients): its parse is remembered,
# boundedly, since on a server facing the internet every client is a new key.
MAX_REMEMBERED_PEERS = 1024


def peer(meta: Mapping[str, Any]) -> Peer | None:
    """The peer the socket saw: ``REMOTE_ADDR`` parsed (see ``parse_address``); None when it is
    not a valid address, or when an ASGI server may have taken it from the forwarded headers."""
    remote_addr = meta.get("REMOTE_ADDR", "")
    text = remote_addr if type(remote_addr) is str else str(remote_addr)
    # "wsgi.input" is in every WSGI environ and never in Django's ASGI META; WSGI
    # servers hand over the socket's peer, so only ASGI pays for the look.
    if "wsgi.input" not in meta and names_host(meta, text):
        _warn_rewritten_peer()
        return None
    return _parsed_peer(text)


def _warn_rewritten_peer() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(REWRITTEN_PEER_WARNING)


@functools.lru_cache(maxsize=MAX_REMEMBERED_PEERS)
def _parsed_peer(remote_addr: str) -> Peer | None:
    address = parse_address(remote_addr)
    return None if address is None else Peer(address, str(address))


def peer_in(meta: Mapping[str, Any], networks: Iterable[Network]) -> bool:
    """Whether the peer the server saw (``REMOTE_ADDR``) is in one of ``networks``.

    ``X-Forwarded-For`` is never consulted: any client can send it.
    """
    found = peer(meta)
    return found is not None and any(found.address in net for net in networks)
