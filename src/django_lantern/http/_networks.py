"""Peer address checks against CIDR lists (``/metrics`` access, trusted proxies)."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django_lantern._validators import Network

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
    """``REMOTE_ADDR`` parsed (see ``parse_address``), or None when it is not a valid address."""
    remote_addr = meta.get("REMOTE_ADDR", "")
    return _parsed_peer(remote_addr if type(remote_addr) is str else str(remote_addr))


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
