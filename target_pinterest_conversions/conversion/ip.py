"""``client_ip_address``: the client's public address, as Pinterest can match it. Pure.

Stores and proxies record addresses in several forms: with a port (``203.0.113.7:51234``,
``[2001:db8::7]:443``), or as an ``X-Forwarded-For`` list (``client, proxy1, proxy2``).
Pinterest matches the client's public address, so:

- a port is stripped;
- from a list, the first public address is taken (the client's own, left of its proxies);
  entries that are no address (``unknown``, which some proxies write) are passed over;
- a private, shared (carrier-grade NAT), loopback, link-local, unspecified or multicast
  address is left out (:class:`DroppedValue`, counted in the summary): no one can be
  matched by it. Documentation ranges (TEST-NET, ``2001:db8::/32``) pass: they are what
  examples and tests use, and they reach no one either way;
- the address is sent in its canonical form (``2001:db8::7``; an IPv4-mapped IPv6
  address as its IPv4 form).
"""

from __future__ import annotations

import functools
import ipaddress
import re

from target_pinterest_conversions.conversion.text import DroppedValue, text_of

_NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",  # private (RFC 1918)
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",  # shared, carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "0.0.0.0/32",  # unspecified
        "224.0.0.0/4",  # multicast
        "fc00::/7",  # unique local
        "::1/128",
        "fe80::/10",
        "::/128",
        "ff00::/8",
    )
)
"""Every network whose addresses no one can be matched by: the one statement of the rule."""

_NOT_PUBLIC_V4 = tuple(
    (int(net.netmask), int(net.network_address)) for net in _NOT_PUBLIC if net.version == 4
)
"""The IPv4 rows of :data:`_NOT_PUBLIC` as integers, for the plain dotted quad's route."""

_NOT_PUBLIC_V4_BY_FIRST_OCTET = tuple(
    tuple(
        (mask, network)
        for mask, network in _NOT_PUBLIC_V4
        if network >> 24 <= octet <= (network | ~mask & 0xFFFFFFFF) >> 24
    )
    for octet in range(256)
)
"""The rows of :data:`_NOT_PUBLIC_V4` an address can fall in, by its first octet: most
public addresses have none to test."""

_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""Plain ``a.b.c.d`` as ipaddress reads it: ASCII decimal octets to 255, no leading zeros."""

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(entry: str) -> _IPAddress | None:
    """Read one address, its port stripped; ``None`` when it is not an address."""
    text = entry.strip()
    if text.startswith("["):  # [IPv6]:port
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:  # IPv4:port (IPv6 has two colons at least)
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _public(address: _IPAddress) -> bool:
    return not any(address in network for network in _NOT_PUBLIC)


def _dotted_quad(text: str) -> int | None:
    """The value of plain ``a.b.c.d`` as ipaddress reads it (no leading zeros), else None."""
    if _DOTTED_QUAD.fullmatch(text) is None:
        return None
    return int.from_bytes(bytes(map(int, text.split("."))), "big")


def normalize_client_ip(value: object) -> str:
    """Return the client's public address from ``value``, or raise :class:`DroppedValue`.

    The reason names neither the field (the caller does) nor the value.
    """
    address, reason = _normalized(text_of(value).strip())
    if address is None:
        raise DroppedValue(reason)
    return address


_NOT_PUBLIC_REASON = (
    "is a private, shared, loopback or link-local address, which Pinterest cannot match"
)


@functools.lru_cache(maxsize=4096)  # a store's orders repeat their clients' addresses
def _normalized(text: str) -> tuple[str | None, str]:
    if not text:
        return None, "is empty"
    value = _dotted_quad(text)
    if value is not None:
        # The usual value, a plain IPv4 address: the same table, read as integers
        # (ipaddress would take ten times the work for the same answer).
        rows = _NOT_PUBLIC_V4_BY_FIRST_OCTET[value >> 24]
        if rows and any(value & mask == network for mask, network in rows):
            return None, _NOT_PUBLIC_REASON
        return text, ""
    addresses = [a for a in (_address(entry) for entry in text.split(",")) if a is not None]
    if not addresses:
        return None, "is not an IP address (or a list of them)"
    for address in addresses:
        if _public(address):
            return str(address), ""
    return None, _NOT_PUBLIC_REASON
