"""Normalize and SHA-256-hash personal data the way Pinterest documents it.

Pinterest's rules (request schema descriptions of ``user_data``): email lowercase; phone
digits only with country code and no leading zeros; names lowercase; city lowercase
without spaces or punctuation; state and country two-letter lowercase codes; zip digits;
gender ``f``/``m``/``n``; date of birth as ``YYYYMMDD``. Each field has one small pure
normalizer that returns the normalized text, or raises :class:`DroppedValue` with a
reason that never contains the raw value.

A value that already is a 64-hex SHA-256 digest is passed through lowercased, so data
hashed upstream is never hashed twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import pycountry

from target_pinterest_conversions.fields import FIELDS, USER_DATA, names
from target_pinterest_conversions.limits import MAX_NUMBER_DIGITS, InvalidText, number_text
from target_pinterest_conversions.values import as_list, is_blank

HASHED_KEYS: tuple[str, ...] = names(USER_DATA, "hashed")
"""``user_data`` keys that Pinterest wants as arrays of SHA-256 hex digests."""

PLAIN_KEYS: tuple[str, ...] = names(USER_DATA, "plain")
"""``user_data`` keys that Pinterest wants as one plain string."""

USER_DATA_KEYS: tuple[str, ...] = HASHED_KEYS + PLAIN_KEYS
_PLAIN = frozenset(PLAIN_KEYS)

_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NON_DIGITS = re.compile(r"[^0-9]")
_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15


class DroppedValue(ValueError):
    """A value that cannot be normalized; ``reason`` never holds the raw value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sha256_hex(text: str) -> str:
    """Return the lowercase hex SHA-256 digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_sha256_hex(text: str) -> bool:
    """Tell whether ``text`` already is a 64-character hex SHA-256 digest."""
    return bool(_SHA256_HEX.match(text))


def _text(value: object) -> str:
    """Turn a scalar into text: numbers without float noise, NFKC-normalized strings."""
    if type(value) is str:
        # ASCII text is already in NFKC form; most values are ASCII.
        return value if value.isascii() else unicodedata.normalize("NFKC", value)
    if isinstance(value, bool):
        raise DroppedValue("is a boolean, not text")
    if (isinstance(value, Decimal) and not value.is_finite()) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise DroppedValue("is not a finite number")
    if isinstance(value, Decimal):
        # Written out in full (1E+28 is 1 and 28 zeros), but never a million digits.
        text = number_text(value)
        if text is None:
            raise DroppedValue(f"is a number of more than {MAX_NUMBER_DIGITS} digits")
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, InvalidText):
        raise DroppedValue("is not valid Unicode (it holds a lone surrogate)")
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value)
    raise DroppedValue(f"is a {type(value).__name__}, not text")


def _nonempty(text: str) -> str:
    if not text:
        raise DroppedValue("is empty")
    return text


def normalize_email(value: object) -> str:
    """Trim and lowercase an email address; reject text that is not an address."""
    text = _nonempty(_text(value).strip().lower())
    if not _EMAIL.match(text):
        raise DroppedValue("is not an email address")
    return text


def normalize_phone(value: object, region: str | None = None) -> str:
    """Return the number as digits with its country code, without leading zeros.

    A number written with ``+`` or ``00`` keeps its own country code. Otherwise, when
    ``region`` (an ISO-3166 alpha-2 code: the record's country, or the
    ``default_phone_country`` setting) is known, the number is read as a national number
    of that country with ``phonenumbers`` and its country code is added; without a
    region, the digits are taken as they are.
    """
    text = _text(value).strip()
    digits = _NON_DIGITS.sub("", text)
    international = text.startswith("+") or digits.startswith("00")
    if region and not international:
        # Imported on first use: its metadata takes a tenth of the start-up time, and
        # many streams carry only international numbers or none.
        import phonenumbers

        try:
            number = phonenumbers.parse(text, region.upper())
        except phonenumbers.NumberParseException:
            raise DroppedValue("is not a phone number") from None
        if not phonenumbers.is_possible_number(number):
            raise DroppedValue("is not a possible phone number for its country")
        digits = f"{number.country_code}{number.national_number}"
    digits = digits.lstrip("0")
    if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
        raise DroppedValue("is not a phone number (7 to 15 digits expected)")
    return digits


def normalize_name(value: object) -> str:
    """Trim and lowercase a first or last name, keeping letters such as ``ü``."""
    return _nonempty(" ".join(_text(value).lower().split()))


def normalize_city(value: object) -> str:
    """Lowercase a city and remove spaces and punctuation (Unicode letters kept)."""
    return _nonempty("".join(ch for ch in _text(value).lower() if ch.isalnum()))


def _lookup_key(text: str) -> str:
    """Fold case, accents, punctuation and spacing: ``Île-de-France`` -> ``iledefrance``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


_COUNTRY_ALIASES: dict[str, str] = {
    "uk": "gb",
    "greatbritain": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "northernireland": "gb",
    "usa": "us",
    "unitedstatesofamerica": "us",
    "america": "us",
    "southkorea": "kr",
    "korea": "kr",
    "northkorea": "kp",
    "russia": "ru",
    "vietnam": "vn",
    "iran": "ir",
    "syria": "sy",
    "laos": "la",
    "bolivia": "bo",
    "venezuela": "ve",
    "tanzania": "tz",
    "moldova": "md",
    "czechia": "cz",
    "czechrepublic": "cz",
    "turkey": "tr",
    "turkiye": "tr",
    "holland": "nl",
    "ivorycoast": "ci",
    "taiwan": "tw",
    "deutschland": "de",
    "brasil": "br",
    "espana": "es",
    "italia": "it",
    "nederland": "nl",
    "osterreich": "at",
    "schweiz": "ch",
    "suisse": "ch",
    "mexico": "mx",
}


@functools.lru_cache(maxsize=1)
def _countries() -> dict[str, str]:
    """Country names, official names, common names and codes, folded, to alpha-2."""
    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2.lower()
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                table.setdefault(_lookup_key(name), code)
    table.update(_COUNTRY_ALIASES)
    return table


@functools.lru_cache(maxsize=1)
def _subdivisions() -> dict[tuple[str, str], str]:
    """(country alpha-2, folded subdivision name or code) to the code's local part."""
    table: dict[tuple[str, str], str] = {}
    for sub in pycountry.subdivisions:
        country, _, local = sub.code.partition("-")
        country, local = country.lower(), local.lower()
        table.setdefault((country, _lookup_key(sub.name)), local)
        table.setdefault((country, _lookup_key(sub.code)), local)
        table.setdefault((country, _lookup_key(local)), local)
    return table


# Where a state name is looked up when the record's country is unknown.
_STATE_COUNTRIES_BY_DEFAULT = ("us", "ca", "au")


@functools.lru_cache(maxsize=4096)
def _country_code(text: str) -> str | None:
    return _countries().get(_lookup_key(unicodedata.normalize("NFKC", text)))


def normalize_country(value: object) -> str:
    """Return the ISO-3166 alpha-2 code, lowercased, of a country code or name.

    ``US``, ``USA``, ``United States`` and ``United States of America`` all give ``us``.
    """
    code = _country_code(_text(value))
    if code is None:
        raise DroppedValue("is not a known country name or ISO-3166 code")
    return code


def normalize_state(value: object, country: str | None = None) -> str:
    """Return a two-letter state or province code, lowercased, from a code or name.

    Names are looked up in ISO-3166-2 for the record's country when known (``Bayern``
    in ``de`` gives ``by``), else among US, Canadian and Australian ones (``California``
    gives ``ca``). A full code such as ``US-NY`` gives ``ny``. Codes longer than two
    letters (``IDF``) are dropped: Pinterest takes two-letter codes only.
    """
    text = _text(value).strip()
    prefix, dash, rest = text.partition("-")
    if dash and len(prefix.strip()) == 2 and rest.strip():
        country, text = prefix.strip(), rest
    key = _lookup_key(text)
    if len(key) == 2 and key.isalpha() and key.isascii():
        return key  # already a code; the names table (slow to build) is not needed
    countries = (country.lower(),) if country else _STATE_COUNTRIES_BY_DEFAULT
    table = _subdivisions()
    for candidate in countries:
        local = table.get((candidate, key))
        if local is not None:
            if len(local) == 2 and local.isalpha():
                return local
            raise DroppedValue("has no two-letter state code")
    raise DroppedValue("is not a two-letter state code or a known state name")


def normalize_zip(value: object) -> str:
    """US ZIP and ZIP+4 give their first 5 digits; other postcodes are lowercased.

    Spaces and dashes are removed from non-US postcodes, but letters are kept, so that a
    UK ``SW1A 2AA`` becomes ``sw1a2aa`` and never ``12``.
    """
    text = _text(value).strip().lower()
    if match := _US_ZIP.match(text):
        return match.group(1)
    compact = "".join(ch for ch in text if ch.isalnum())
    return _nonempty(compact)


_GENDERS: dict[str, str] = {
    "f": "f",
    "female": "f",
    "woman": "f",
    "w": "f",
    "girl": "f",
    "m": "m",
    "male": "m",
    "man": "m",
    "boy": "m",
    "n": "n",
    "nonbinary": "n",
    "nb": "n",
    "enby": "n",
    "x": "n",
}


def normalize_gender(value: object) -> str:
    """Map gender words and letters (``Female``, ``M``, ``non-binary``) to f, m or n."""
    key = "".join(ch for ch in _text(value).lower() if ch.isalnum())
    if key in _GENDERS:
        return _GENDERS[key]
    raise DroppedValue("is not a recognized gender (f, m or n)")


_DOB_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y.%m.%d",
)


def normalize_date_of_birth(value: object) -> str:
    """Return a date of birth as ``YYYYMMDD`` from a date, datetime or common text form.

    Slash dates are read month first (``07/04/1990`` is July 4th), as in the US, where
    most of Pinterest's advertisers are; dotted dates are read day first.
    """
    if isinstance(value, dt.datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    text = _text(value).strip()
    if "T" in text:
        text = text.split("T", 1)[0]
    for fmt in _DOB_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).strftime("%Y%m%d")
        except ValueError:
            continue
    raise DroppedValue("is not a date of birth in a known format")


def normalize_external_id(value: object) -> str:
    """Trim an advertiser's user id; its case is kept because ids can be case-sensitive."""
    return _nonempty(_text(value).strip())


def normalize_maid(value: object) -> str:
    """Trim and lowercase a mobile advertising id (GAID or IDFA)."""
    return _nonempty(_text(value).strip().lower())


def normalize_plain(value: object) -> str:
    """Trim a value that Pinterest wants unhashed (IP address, user agent, click id)."""
    return _nonempty(_text(value).strip())


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


_REGIONAL_KEYS = ("ph", "st")
_sha256 = hashlib.sha256


class _DigestMemo:
    """Remembers the digests of one field's text values (one country's, for phones and states).

    Cities, states, names and repeat customers recur across records, so most values
    are hashed once. A plain dict emptied when full costs less per lookup than an LRU
    cache, and bounds memory all the same. Failures are not remembered.
    """

    __slots__ = ("country", "key", "normalize", "table")

    LIMIT = 8192

    def __init__(self, key: str, country: str | None) -> None:
        self.key = key
        self.country = country
        self.table: dict[str, str] = {}
        # Bound once: a value not seen before costs no dispatch on the key.
        self.normalize: Callable[[str], str] = functools.partial(normalize, key, country=country)
        if key in NORMALIZERS and key not in _REGIONAL_KEYS:
            self.normalize = NORMALIZERS[key]

    def digest(self, value: str) -> str:
        """Return the digest of ``value``; raise :class:`DroppedValue` as ``normalize`` does.

        A value that already is a 64-hex digest is returned lowercased, never hashed twice.
        """
        digest = self.table.get(value)
        if digest is None:
            stripped = value.strip()
            if len(stripped) == 64 and _SHA256_HEX.match(stripped):
                digest = stripped.lower()
            else:
                digest = _sha256(self.normalize(value).encode("utf-8")).hexdigest()
            if len(self.table) >= self.LIMIT:
                self.table.clear()
            self.table[value] = digest
        return digest


_SHARED_MEMOS = {key: _DigestMemo(key, None) for key in HASHED_KEYS if key not in _REGIONAL_KEYS}
_MEMOS_BY_COUNTRY: dict[str | None, dict[str, _DigestMemo]] = {}


def _digests(country: str | None) -> dict[str, _DigestMemo]:
    """Return the memo of each hashed key for records of ``country``."""
    memos = _MEMOS_BY_COUNTRY.get(country)
    if memos is None:
        if len(_MEMOS_BY_COUNTRY) >= 64:
            _MEMOS_BY_COUNTRY.clear()
        memos = dict(_SHARED_MEMOS)
        memos.update({key: _DigestMemo(key, country) for key in _REGIONAL_KEYS})
        _MEMOS_BY_COUNTRY[country] = memos
    return memos


def digest_memo(key: str, country: str | None = None) -> Mapping[str, str]:
    """Return the memo behind :func:`text_digester`: ``text -> digest`` of values seen.

    A value found there needs no call; one not found goes to the digester, which adds
    it. The mapping is the same object for the whole run (emptied, never replaced).
    """
    return _digests(country)[key].table


def text_digester(key: str, country: str | None = None) -> Callable[[str], str]:
    """Return the memoized ``str -> digest`` function of hashed field ``key``.

    The function does what :func:`hash_value` does for a text value (for ``ph`` and
    ``st``, with ``country``), and raises :class:`DroppedValue` the same way.
    """
    return _digests(country)[key].digest


def _as_list(value: object) -> Iterable[object]:
    """The values given: one or several, blanks left out (they count as absent)."""
    if type(value) is str:  # the usual case, settled without building a list
        return (value,) if value and not value.isspace() else ()
    return [v for v in as_list(value) if not is_blank(v)]


def record_country(raw: Mapping[str, Any], default: str | None = None) -> str | None:
    """Return the record's country as alpha-2 (from raw ``country`` values), else ``default``."""
    return country_of(raw.get("country"), default)


def country_of(value: object, default: str | None = None) -> str | None:
    """Return the alpha-2 code of a raw ``country`` value (or list of them), else ``default``."""
    if type(value) is str:
        code = _country_code(value)
        if code is not None:
            return code
    elif value is not None:
        for item in _as_list(value):
            if isinstance(item, str) and is_sha256_hex(item.strip()):
                continue
            try:
                return normalize_country(item)
            except DroppedValue:
                continue
    return default.lower() if default else None


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
            for item in _as_list(value):
                try:
                    user_data[key] = normalize_plain(item)
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
        for item in _as_list(value):
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
