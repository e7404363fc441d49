"""``client_ip_address`` hygiene: the client's public address, as Pinterest can match it.

Ports are stripped, an ``X-Forwarded-For`` list gives its first public hop, and private,
shared, loopback and link-local addresses are left out and counted, never sent.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion import ip
from target_pinterest_conversions.conversion.ip import normalize_client_ip
from target_pinterest_conversions.conversion.text import DroppedValue
from target_pinterest_conversions.conversion.user_data import build_user_data
from tests.cli import run_target
from tests.singer import CHECKOUT, record_line, schema_line

NOT_PUBLIC = "is a private, shared, loopback or link-local address, which Pinterest cannot match"


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:DB8:0:0::7", "2001:db8::7"),
        ("::ffff:8.8.4.4", "8.8.4.4"),
        ("10.0.0.1, 198.51.100.4, 10.0.0.2", "198.51.100.4"),
        ("198.51.100.4, 8.8.8.8", "198.51.100.4"),
        ("unknown, 8.8.8.8:80", "8.8.8.8"),
        ("192.168.1.9,[2001:db8::9]:80", "2001:db8::9"),
    ],
)
def test_the_first_public_address_is_sent_without_its_port(raw, sent):
    assert normalize_client_ip(raw) == sent


@pytest.mark.parametrize(
    "raw",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1:8080",
        "100.64.0.1",
        "169.254.1.1",
        "fe80::1%eth0",
        "fd12:3456::1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "224.0.0.1",
        "10.0.0.1, 192.168.0.1",
    ],
)
def test_private_shared_loopback_and_link_local_addresses_are_left_out(raw):
    with pytest.raises(DroppedValue) as caught:
        normalize_client_ip(raw)
    assert caught.value.reason == NOT_PUBLIC


@pytest.mark.parametrize("raw", ["c", "1717199940", "999.1.1.1", "unknown", 3232235777])
def test_what_is_no_address_is_left_out(raw):
    with pytest.raises(DroppedValue) as caught:
        normalize_client_ip(raw)
    assert caught.value.reason == "is not an IP address (or a list of them)"


def test_the_edges_of_the_private_ranges_are_public():
    for raw in ("172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "11.0.0.0"):
        assert normalize_client_ip(raw) == raw


def test_user_data_takes_the_address_and_reports_a_dropped_one():
    data, dropped = build_user_data({"client_ip_address": "203.0.113.7:9"})
    assert data == {"client_ip_address": "203.0.113.7"}
    data, dropped = build_user_data({"client_ip_address": ["192.168.0.1", "203.0.113.8"]})
    assert data == {"client_ip_address": "203.0.113.8"}
    assert dropped == [("client_ip_address", NOT_PUBLIC)]


@pytest.mark.cli
def test_through_the_cli_private_addresses_are_counted_and_never_sent(tmp_path):
    mapping = {
        **CHECKOUT,
        "user_data": {"em": "email", "client_ip_address": "kind"},
    }
    config = {
        "ad_account_id": "549755885175",
        "dry_run": True,
        "summary_path": str(tmp_path / "summary.json"),
        "streams": {"orders": mapping},
    }
    lines = [
        schema_line(),
        record_line("orders", 1, kind="10.0.0.7, 203.0.113.9"),
        record_line("orders", 2, kind="192.168.1.20"),
    ]
    result = run_target(tmp_path, config, lines)
    assert result.returncode == 0, result.stderr[-2000:]
    (body,) = (tmp_path / "dry-run.jsonl").read_text().splitlines()
    sent = [event["user_data"].get("client_ip_address") for event in json.loads(body)["data"]]
    assert sent == ["203.0.113.9", None]
    stream = json.loads((tmp_path / "summary.json").read_text())["streams"]["orders"]
    assert stream["dropped_values"] == {f"client_ip_address {NOT_PUBLIC}": 1}
    assert "192.168.1.20" not in result.stderr


def _by_ipaddress(text: str) -> str:
    """The answer of the general route (ipaddress), for one entry."""
    address = ip._address(text)
    if address is None:
        return "no address"
    return str(address) if ip._public(address) else "not public"


@settings(max_examples=600, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
        st.tuples(
            *[
                st.sampled_from(
                    [
                        "0",
                        "00",
                        "010",
                        "10",
                        "127",
                        "169",
                        "172",
                        "192",
                        "224",
                        "255",
                        "256",
                        "100",
                        "64",
                        "254",
                        "168",
                        "16",
                        "31",
                        "32",
                        "1",
                        "٣",
                        "+1",
                        " 1",
                    ]
                )
            ]
            * 4
        ).map(".".join),
    )
)
def test_the_dotted_quad_route_answers_as_ipaddress_does(text):
    try:
        got = normalize_client_ip(text)
    except DroppedValue as exc:
        got = "not public" if exc.reason == NOT_PUBLIC else "no address"
    assert got == _by_ipaddress(text)
