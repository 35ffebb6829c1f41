"""Client addresses: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from evently.core.net import client_address
from evently.core.settings import CommonSettings, SettingsError, load_settings


def request_from(peer: str, forwarded: str | None = None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = make_mocked_request("GET", "/", headers=headers)
    return request.clone(remote=peer)


def test_direct_peer_is_the_client_when_not_a_proxy():
    assert client_address(request_from("203.0.113.9", "1.2.3.4"), ["127.0.0.1"]) == "203.0.113.9"


def test_right_most_untrusted_hop_behind_a_trusted_proxy():
    request = request_from("127.0.0.1", "6.6.6.6, 203.0.113.9")
    assert client_address(request, ["127.0.0.1"]) == "203.0.113.9"


def test_cidr_ranges_trust_a_whole_pod_network():
    request = request_from("10.244.3.7", "198.51.100.4, 10.244.1.2")
    assert client_address(request, ["10.244.0.0/16"]) == "198.51.100.4"


def test_settings_reject_a_malformed_proxy_entry():
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings(
            CommonSettings,
            {
                "DATABASE_URL": "postgresql://x/y",
                "INTERNAL_API_KEY": "k" * 20,
                "TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip",
            },
        )
