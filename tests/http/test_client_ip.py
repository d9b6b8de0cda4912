"""The client's address: REMOTE_ADDR, or the nearest untrusted forwarded hop behind trusted proxies."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_lantern._validators import parse_networks
from django_lantern.conf import build_settings
from django_lantern.http._client_ip import MAX_HOPS, client_ip
from tests.conftest import CORE_URLS, LogCapture

PROXIES = parse_networks(["10.0.0.0/8", "::1/128"])[0]


def test_no_trusted_proxies_ignores_forwarded_headers() -> None:
    """With the default (no proxies) a client cannot choose its address by header."""
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4", "HTTP_FORWARDED": "for=5.6.7.8"}
    assert client_ip(meta, ()) == "203.0.113.9"


def test_untrusted_peer_headers_are_ignored() -> None:
    """A peer outside TRUSTED_PROXIES is the client, whatever it forwards."""
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert client_ip(meta, PROXIES) == "203.0.113.9"


def test_nearest_untrusted_hop_of_x_forwarded_for() -> None:
    """Hops written by the client (left of the first untrusted one) are never believed."""
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7, 10.0.0.1"}
    assert client_ip(meta, PROXIES) == "198.51.100.7"


def test_forwarded_header_wins_and_is_parsed() -> None:
    """RFC 7239: quoted IPv6 with a port, IPv4 with a port, other parameters ignored."""
    meta = {
        "REMOTE_ADDR": "10.1.1.1",
        "HTTP_FORWARDED": 'for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.5:8080;by=10.0.0.6',
        "HTTP_X_FORWARDED_FOR": "9.9.9.9",
    }
    assert client_ip(meta, PROXIES) == "2001:db8:cafe::17"


def test_malformed_hop_stops_at_the_trusted_proxy() -> None:
    """A hop that is not an address breaks the chain: the proxy that passed it on is reported."""
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, not-an-ip"}
    assert client_ip(meta, PROXIES) == "10.0.0.2"
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_FORWARDED": "for=unknown"}
    assert client_ip(meta, PROXIES) == "10.0.0.2"


def test_ipv4_mapped_peer_is_normalised() -> None:
    """``::ffff:10.0.0.2`` is the IPv4 proxy it maps."""
    meta = {"REMOTE_ADDR": "::ffff:10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert client_ip(meta, PROXIES) == "198.51.100.7"


def test_invalid_peer_gives_none() -> None:
    """No usable REMOTE_ADDR: unknown, never a header value."""
    assert client_ip({"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, PROXIES) is None


def test_remembered_peers_are_bounded_and_still_right() -> None:
    """Every new REMOTE_ADDR is remembered, but never more than MAX_REMEMBERED_PEERS of them,
    and a remembered answer (valid or not) is the same as a fresh one."""
    from django_lantern.http import _networks as module

    for i in range(module.MAX_REMEMBERED_PEERS * 3):
        address = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        assert client_ip({"REMOTE_ADDR": address}, ()) == address
        assert module._parsed_peer.cache_info().currsize <= module.MAX_REMEMBERED_PEERS
    for _ in range(2):  # the second time from the memo
        assert client_ip({"REMOTE_ADDR": "::ffff:10.0.0.2"}, ()) == "10.0.0.2"
        assert client_ip({"REMOTE_ADDR": "not an address"}, ()) is None
        assert client_ip({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}, PROXIES) == (
            "198.51.100.7"
        )


def test_long_chains_are_bounded() -> None:
    """Only the last MAX_HOPS hops are read; an all-trusted chain reports its leftmost read hop."""
    chain = ", ".join(["10.0.0.9"] * 10_000)
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "7.7.7.7, " + chain}
    assert client_ip(meta, PROXIES) == "10.0.0.9"
    assert MAX_HOPS < 10_000


def test_trusted_proxies_setting_is_validated() -> None:
    """A bad CIDR or type is a setting error that names the key."""
    _, errors = build_settings({"TRUSTED_PROXIES": ["10.0.0.0/33"]})
    assert any("TRUSTED_PROXIES" in e and "10.0.0.0/33" in e for e in errors)
    _, errors = build_settings({"TRUSTED_PROXIES": "10.0.0.0/8"})
    assert any("TRUSTED_PROXIES" in e for e in errors)
    built, errors = build_settings({"TRUSTED_PROXIES": ["10.0.0.0/8"]})
    assert not errors and len(built.trusted_proxies) == 1


@pytest.mark.urls(CORE_URLS)
def test_access_line_carries_client_ip(client: Client, logs: LogCapture) -> None:
    """The access record has client_ip: the peer by default, the forwarded client behind a trusted proxy."""
    client.get("/ok/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert logs.by_logger("access")[-1]["client_ip"] == "10.0.0.2"
    with override_settings(LANTERN={"TRUSTED_PROXIES": ["10.0.0.0/8"]}):
        client.get("/ok/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert logs.by_logger("access")[-1]["client_ip"] == "198.51.100.7"
    assert "client_ip=198.51.100.7" in logs.text_lines[-1]
