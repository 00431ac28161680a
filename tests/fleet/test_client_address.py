"""Whose address a request has: the connection's peer, unless that peer is a proxy we
were told to trust (TELLUS_TRUSTED_PROXIES, none by default); then the right-most
X-Forwarded-For entry that is not itself a trusted proxy."""

from ipaddress import ip_address, ip_network

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from fleet.actors import client_address, request_ip

PROXIES = (ip_network("10.0.0.0/8"), ip_network("::1/128"))
CALLER = "198.51.100.23"


@pytest.fixture
def proxies(settings):
    settings.TELLUS_TRUSTED_PROXIES = PROXIES


def test_by_default_no_forwarded_header_is_believed():
    assert client_address("10.0.0.5", CALLER) == "10.0.0.5"
    assert client_address(CALLER, "192.0.2.1") == CALLER


def test_a_trusted_proxy_names_the_caller(proxies):
    assert client_address("10.0.0.5", CALLER) == CALLER
    assert client_address("::1", f"{CALLER}, 10.1.2.3") == CALLER


def test_entries_left_of_the_first_untrusted_hop_are_the_callers_own_words(proxies):
    # The caller wrote "192.0.2.1" itself; our proxy appended the address it saw.
    assert client_address("10.0.0.5", f"192.0.2.1, {CALLER}") == CALLER


def test_an_untrusted_peer_cannot_claim_another_address(proxies):
    assert client_address(CALLER, "10.0.0.9, 192.0.2.1") == CALLER


def test_a_garbled_chain_is_believed_no_further_than_the_last_proxy(proxies):
    assert client_address("10.0.0.5", f"{CALLER}, not-an-address") == "10.0.0.5"
    assert client_address("10.0.0.5", "") == "10.0.0.5"


def test_request_ip_reads_the_header_django_sees(proxies):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=CALLER)
    assert request_ip(request) == CALLER


HOPS = st.one_of(st.sampled_from(["10.0.0.7", "::1", CALLER, "192.0.2.1", " 10.9.9.9 "]), st.text())


@given(peer=st.sampled_from(["10.0.0.5", CALLER, "::1", "", "garbage"]), hops=st.lists(HOPS))
def test_any_header_yields_the_peer_or_an_address_from_the_header(peer, hops):
    header = ",".join(hops)
    with override_settings(TELLUS_TRUSTED_PROXIES=PROXIES):
        result = client_address(peer, header)
    if result is not None and result != peer:
        assert result in {str(ip_address(h.strip())) for h in header.split(",") if _ip(h)}
    with override_settings(TELLUS_TRUSTED_PROXIES=()):
        assert client_address(peer, header) == (peer or None)


def _ip(text: str) -> bool:
    try:
        ip_address(text.strip())
    except ValueError:
        return False
    return True
