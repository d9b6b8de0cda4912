"""The client's address, believing forwarded headers only from trusted proxies.

``REMOTE_ADDR`` is the peer the server saw. When that peer is one of
``LANTERN["TRUSTED_PROXIES"]``, the forwarded chain (``Forwarded`` when present,
else ``X-Forwarded-For``) is walked from the right, the hop nearest to us, and
the first address that is not itself a trusted proxy is the client. Everything
to the left of it was written by the client and proves nothing. With no trusted
proxies (the default) the forwarded headers are never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django_lantern._validators import Network
from django_lantern.http._forwarded import forwarded_for
from django_lantern.http._networks import Address, parse_address, peer

# A chain longer than this is not a real proxy path; reading further would only
# let a client make us parse more. Headers are cut from the left: the right end
# holds the hops nearest to us, the only ones that can matter.
MAX_HOPS = 20
MAX_HEADER_LENGTH = 2048


def _hops(meta: Mapping[str, Any]) -> list[str]:
    """The forwarded chain, nearest hop last; ``Forwarded`` wins over ``X-Forwarded-For``."""
    forwarded = meta.get("HTTP_FORWARDED")
    if forwarded:
        return [forwarded_for(element) for element in str(forwarded)[-MAX_HEADER_LENGTH:].split(",")][-MAX_HOPS:]
    xff = meta.get("HTTP_X_FORWARDED_FOR")
    if xff:
        return str(xff)[-MAX_HEADER_LENGTH:].split(",")[-MAX_HOPS:]
    return []


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def client_ip(meta: Mapping[str, Any], proxies: tuple[Network, ...]) -> str | None:
    """The client's address as text, or ``None`` when the server gave no valid peer."""
    found = peer(meta)
    if found is None:
        return None
    if not proxies or not _trusted(found.address, proxies):
        return found.text
    current = found.address
    for hop in reversed(_hops(meta)):
        address = parse_address(hop)
        if address is None:
            # A malformed hop breaks the chain: the nearest address we can vouch
            # for is the trusted proxy that passed it on.
            return str(current)
        current = address
        if not _trusted(address, proxies):
            return str(address)
    return str(current)
