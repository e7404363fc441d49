"""SHA-256 digests of normalized personal data, memoized per field (and country). Pure.

A value that already is a 64-hex SHA-256 digest is passed through lowercased, so data
hashed upstream is never hashed twice.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from target_pinterest_conversions.conversion.geo import (
    normalize_country,
    normalize_state,
    normalize_zip,
)
from target_pinterest_conversions.conversion.phone import normalize_phone
from target_pinterest_conversions.conversion.text import (
    is_sha256_hex,
    normalize_city,
    normalize_date_of_birth,
    normalize_email,
    normalize_external_id,
    normalize_gender,
    normalize_maid,
    normalize_name,
)
from target_pinterest_conversions.pinterest.fields import FIELDS, USER_DATA, names

HASHED_KEYS: tuple[str, ...] = names(USER_DATA, "hashed")
"""``user_data`` keys that Pinterest wants as arrays of SHA-256 hex digests."""

REGIONAL_KEYS: tuple[str, ...] = ("ph", "st")
"""Hashed keys whose normalizer reads the record's country (phones and state names)."""


def sha256_hex(text: str) -> str:
    """Return the lowercase hex SHA-256 digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_NORMALIZERS_BY_RULE: Mapping[str, Callable[[object], str]] = {
    "email": normalize_email,
    "phone": normalize_phone,
    "name": normalize_name,
    "city": normalize_city,
    "state": normalize_state,
    "zip": normalize_zip,
    "country": normalize_country,
    "gender": normalize_gender,
    "date_of_birth": normalize_date_of_birth,
    "external_id": normalize_external_id,
    "maid": normalize_maid,
}


NORMALIZERS: Mapping[str, Callable[[object], str]] = {
    f.name: _NORMALIZERS_BY_RULE[f.normalizer]
    for f in FIELDS
    if f.group == USER_DATA and f.normalizer is not None
}
"""One normalizer per hashed ``user_data`` key."""


def normalize(key: str, value: object, country: str | None = None) -> str:
    """Normalize one value of hashed field ``key``; ``country`` helps phones and states.

    Raises:
        DroppedValue: the value cannot be normalized for that field.

    """
    if key == "ph":
        return normalize_phone(value, country)
    if key == "st":
        return normalize_state(value, country)
    return NORMALIZERS[key](value)


def hash_value(key: str, value: object, country: str | None = None) -> str:
    """Normalize one value of hashed field ``key`` and return its SHA-256 hex digest.

    A value that already is a 64-hex digest is returned lowercased, never hashed twice.

    Raises:
        DroppedValue: the value cannot be normalized for that field.

    """
    if type(value) is str:
        return _digests(country)[key].digest(value)
    return sha256_hex(normalize(key, value, country))


def _builtin_sha256() -> Callable[[bytes], Any]:
    """Return CPython's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before), else OpenSSL's.

    Both compute the same function. For the short texts of personal data (one 64-byte
    block) CPython's costs about 1,500 fewer instructions a digest, and less time:
    OpenSSL's faster block function does not make up for its set-up on every call (an
    EVP context to create, and another to copy for ``hexdigest``).
    """
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    return hashlib.sha256


_sha256 = _builtin_sha256()

_MEMO_LIMIT = 8192
"""Texts a memo holds before it is emptied."""


class _DigestMemo:
    """Remembers the digests of one field's text values (one country's, for phones and states).

    Cities, states, names and repeat customers recur across records, so most values
    are hashed once. A plain dict emptied when full costs less per lookup than an LRU
    cache, and bounds memory all the same. Failures are not remembered.
    """

    __slots__ = ("country", "key", "normalize", "regional", "table")

    def __init__(self, key: str, country: str | None) -> None:
        self.key = key
        self.country = country
        self.table: dict[str, str] = {}
        # Bound once: a value not seen before costs no dispatch on the key. The normalizer
        # of a regional key takes the country as its second argument (``normalize``).
        self.regional = key in REGIONAL_KEYS
        self.normalize: Callable[..., str] = NORMALIZERS[key]

    def digest(self, value: str) -> str:
        """Return the digest of ``value``; raise :class:`DroppedValue` as ``normalize`` does.

        A value that already is a 64-hex digest is returned lowercased, never hashed twice.
        """
        table = self.table
        digest = table.get(value)
        if digest is None:
            # Stripping never lengthens a text: one shorter than 64 is no digest.
            if len(value) >= 64 and is_sha256_hex(stripped := value.strip()):
                digest = stripped.lower()
            else:
                normalize = self.normalize  # an attribute load, not a method look-up
                text = normalize(value, self.country) if self.regional else normalize(value)
                digest = _sha256(text.encode()).hexdigest()
            if len(table) >= _MEMO_LIMIT:
                table.clear()
            table[value] = digest
        return digest


_SHARED_MEMOS = {key: _DigestMemo(key, None) for key in HASHED_KEYS if key not in REGIONAL_KEYS}


_MEMOS_BY_COUNTRY: dict[str | None, dict[str, _DigestMemo]] = {}


def _digests(country: str | None) -> dict[str, _DigestMemo]:
    """Return the memo of each hashed key for records of ``country``."""
    memos = _MEMOS_BY_COUNTRY.get(country)
    if memos is None:
        if len(_MEMOS_BY_COUNTRY) >= 64:
            _MEMOS_BY_COUNTRY.clear()
        memos = dict(_SHARED_MEMOS)
        memos.update({key: _DigestMemo(key, country) for key in REGIONAL_KEYS})
        _MEMOS_BY_COUNTRY[country] = memos
    return memos


def digest_memo(key: str, country: str | None = None) -> Mapping[str, str]:
    """Return the memo behind :func:`text_digester`: ``text -> digest`` of values seen.

    A value found there needs no call; one not found goes to the digester, which adds
    it. The mapping is the same object for the whole run (emptied, never replaced).
    """
    return _digests(country)[key].table


_DIGESTERS_BY_COUNTRY: dict[str | None, Mapping[str, Callable[[str], str]]] = {}


def digesters(country: str | None) -> Mapping[str, Callable[[str], str]]:
    """:func:`text_digester` of every hashed key for ``country``: one look-up a record."""
    found = _DIGESTERS_BY_COUNTRY.get(country)
    if found is None:
        if len(_DIGESTERS_BY_COUNTRY) >= 64:
            _DIGESTERS_BY_COUNTRY.clear()
        found = {key: memo.digest for key, memo in _digests(country).items()}
        _DIGESTERS_BY_COUNTRY[country] = found
    return found


def text_digester(key: str, country: str | None = None) -> Callable[[str], str]:
    """Return the memoized ``str -> digest`` function of hashed field ``key``.

    The function does what :func:`hash_value` does for a text value (for ``ph`` and
    ``st``, with ``country``), and raises :class:`DroppedValue` the same way.
    """
    return _digests(country)[key].digest
