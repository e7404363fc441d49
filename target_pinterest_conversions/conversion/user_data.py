"""The ``user_data`` object: hashed keys as digest arrays, plain keys as text. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from target_pinterest_conversions.conversion.geo import country_of
from target_pinterest_conversions.conversion.hashing import _digests, hash_value
from target_pinterest_conversions.conversion.ip import normalize_client_ip
from target_pinterest_conversions.conversion.text import DroppedValue, normalize_plain
from target_pinterest_conversions.conversion.values import nonblank_values
from target_pinterest_conversions.pinterest.fields import USER_DATA, names

PLAIN_KEYS: tuple[str, ...] = names(USER_DATA, "plain")
"""``user_data`` keys that Pinterest wants as one plain string."""

_PLAIN = frozenset(PLAIN_KEYS)

PLAIN_NORMALIZERS: Mapping[str, Callable[[object], str]] = {
    key: normalize_client_ip if key == "client_ip_address" else normalize_plain
    for key in PLAIN_KEYS
}
"""The normalizer of each plain key: the client's public IP address, or trimmed text."""


def record_country(raw: Mapping[str, Any], default: str | None = None) -> str | None:
    """Return the record's country as alpha-2 (from raw ``country`` values), else ``default``."""
    return country_of(raw.get("country"), default)


def build_user_data(
    raw: Mapping[str, Any],
    default_country: str | None = None,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Turn raw ``user_data`` values into what Pinterest accepts.

    Args:
        raw: Pinterest ``user_data`` key to a raw value or list of raw values.
        default_country: alpha-2 code used for phones and states when the record has no
            country of its own (the ``default_phone_country`` setting).

    Returns:
        The ``user_data`` object (hashed keys as de-duplicated arrays of digests, plain
        keys as one string) and the dropped values as ``(key, reason)`` pairs.

    """
    user_data: dict[str, Any] = {}
    dropped: list[tuple[str, str]] = []
    country = record_country(raw, default_country)
    memos = _digests(country)
    for key, value in raw.items():
        if key in _PLAIN:
            normalize = PLAIN_NORMALIZERS[key]
            for item in nonblank_values(value):
                try:
                    user_data[key] = normalize(item)
                    break
                except DroppedValue as exc:
                    dropped.append((key, exc.reason))
            continue
        if type(value) is str:
            # The common case: one text value, normalized and hashed through the cache.
            if value and not value.isspace():
                try:
                    user_data[key] = [memos[key].digest(value)]
                except DroppedValue as exc:
                    dropped.append((key, exc.reason))
            continue
        digests: list[str] = []
        for item in nonblank_values(value):
            try:
                digest = hash_value(key, item, country)
            except DroppedValue as exc:
                dropped.append((key, exc.reason))
                continue
            if digest not in digests:
                digests.append(digest)
        if digests:
            user_data[key] = digests
    return user_data, dropped
