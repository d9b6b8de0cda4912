"""Peer address checks against CIDR lists (``/metrics`` access, trusted proxies)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[tuple[Network, ...], list[str]]:
    """The valid networks and the entries that are not (reported by system checks)."""
    networks: list[Network] = []
    invalid: list[str] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except (TypeError, ValueError):
            invalid.append(cidr)
    return tuple(networks), invalid


def peer_in(meta: Mapping[str, Any], networks: Iterable[Network]) -> bool:
    """Whether the peer the server saw (``REMOTE_ADDR``) is in one of ``networks``.

    ``X-Forwarded-For`` is never consulted: any client can send it.
    """
    try:
        peer = ipaddress.ip_address(meta.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in net for net in networks)
