"""Normalizers of personal data written as free text, and their shared reading rules. Pure.

Pinterest's rules (request schema descriptions of ``user_data``): email lowercase; names
lowercase; city lowercase without spaces or punctuation; gender ``f``/``m``/``n``; date
of birth as ``YYYYMMDD``. Each field has one small normalizer that returns the normalized
text, or raises :class:`DroppedValue` with a reason that never contains the raw value.
Phones are in :mod:`.phone`, places in :mod:`.geo`, digests in :mod:`.hashing`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal

from target_pinterest_conversions.pinterest.limits import (
    MAX_NUMBER_DIGITS,
    InvalidText,
    number_text,
)

_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DroppedValue(ValueError):
    """A value that cannot be normalized; ``reason`` never holds the raw value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_sha256_hex(text: str) -> bool:
    """Tell whether ``text`` already is a 64-character hex SHA-256 digest."""
    return bool(_SHA256_HEX.match(text))


def text_of(value: object) -> str:
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


def nonempty(text: str) -> str:
    """Return ``text``; raise :class:`DroppedValue` when it is empty."""
    if not text:
        raise DroppedValue("is empty")
    return text


def normalize_email(value: object) -> str:
    """Trim and lowercase an email address; reject text that is not an address."""
    text = text_of(value).strip().lower()
    if _EMAIL.match(text):
        return text
    nonempty(text)  # the pattern matches no empty text: say which of the two it is
    raise DroppedValue("is not an email address")


def normalize_name(value: object) -> str:
    """Trim and lowercase a first or last name, keeping letters such as ``ü``."""
    return nonempty(" ".join(text_of(value).lower().split()))


def normalize_city(value: object) -> str:
    """Lowercase a city and remove spaces and punctuation (Unicode letters kept)."""
    return nonempty("".join(ch for ch in text_of(value).lower() if ch.isalnum()))


def fold(text: str) -> str:
    """Fold case, accents, punctuation and spacing: ``Île-de-France`` -> ``iledefrance``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


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
    key = "".join(ch for ch in text_of(value).lower() if ch.isalnum())
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
    text = text_of(value).strip()
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
    return nonempty(text_of(value).strip())


def normalize_maid(value: object) -> str:
    """Trim and lowercase a mobile advertising id (GAID or IDFA)."""
    return nonempty(text_of(value).strip().lower())


def normalize_plain(value: object) -> str:
    """Trim a value that Pinterest wants unhashed (IP address, user agent, click id)."""
    return nonempty(text_of(value).strip())
