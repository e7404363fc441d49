"""Normalizers of places (country, state, zip) and the record's country. Pure.

Countries and states are read from codes or names through ISO 3166 (``pycountry``);
the record's country also decides how phones and state names are read.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import pycountry

from target_pinterest_conversions.conversion.text import (
    DroppedValue,
    fold,
    is_sha256_hex,
    nonempty,
    text_of,
)
from target_pinterest_conversions.conversion.values import nonblank_values

_US_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")


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
                table.setdefault(fold(name), code)
    table.update(_COUNTRY_ALIASES)
    return table


@functools.lru_cache(maxsize=1)
def _subdivisions() -> dict[tuple[str, str], str]:
    """(country alpha-2, folded subdivision name or code) to the code's local part."""
    table: dict[tuple[str, str], str] = {}
    for sub in pycountry.subdivisions:
        country, _, local = sub.code.partition("-")
        country, local = country.lower(), local.lower()
        table.setdefault((country, fold(sub.name)), local)
        table.setdefault((country, fold(sub.code)), local)
        table.setdefault((country, fold(local)), local)
    return table


# Where a state name is looked up when the record's country is unknown.
_STATE_COUNTRIES_BY_DEFAULT = ("us", "ca", "au")


@functools.lru_cache(maxsize=4096)
def _country_code(text: str) -> str | None:
    return _countries().get(fold(unicodedata.normalize("NFKC", text)))


def normalize_country(value: object) -> str:
    """Return the ISO-3166 alpha-2 code, lowercased, of a country code or name.

    ``US``, ``USA``, ``United States`` and ``United States of America`` all give ``us``.
    """
    code = _country_code(text_of(value))
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
    text = text_of(value).strip()
    prefix, dash, rest = text.partition("-")
    if dash and len(prefix.strip()) == 2 and rest.strip():
        country, text = prefix.strip(), rest
    key = fold(text)
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
    text = text_of(value).strip().lower()
    if match := _US_ZIP.match(text):
        return match.group(1)
    compact = "".join(ch for ch in text if ch.isalnum())
    return nonempty(compact)


def country_of(value: object, default: str | None = None) -> str | None:
    """Return the alpha-2 code of a raw ``country`` value (or list of them), else ``default``."""
    if type(value) is str:
        code = _country_code(value)
        if code is not None:
            return code
    elif value is not None:
        for item in nonblank_values(value):
            if isinstance(item, str) and is_sha256_hex(item.strip()):
                continue
            try:
                return normalize_country(item)
            except DroppedValue:
                continue
    return default.lower() if default else None
