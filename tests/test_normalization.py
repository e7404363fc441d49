"""Hash vectors: each raw value, its expected normalized text written literally, and the
SHA-256 Pinterest must receive. Includes the mistakes other connectors make."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion import hashing
from target_pinterest_conversions.conversion.geo import normalize_country, normalize_state
from target_pinterest_conversions.conversion.hashing import (
    HASHED_KEYS,
    REGIONAL_KEYS,
    digest_memo,
    hash_value,
    normalize,
    text_digester,
)
from target_pinterest_conversions.conversion.phone import _NON_DIGITS, normalize_phone
from target_pinterest_conversions.conversion.text import DroppedValue, is_sha256_hex, text_of
from target_pinterest_conversions.conversion.user_data import build_user_data
from target_pinterest_conversions.pinterest.limits import InvalidText


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# (field, raw value, the record's country or None, normalized text)
VECTORS = [
    # email: trimmed and lowercased
    ("em", "jane.doe@example.com", None, "jane.doe@example.com"),
    ("em", "  Jane.Doe@Example.COM ", None, "jane.doe@example.com"),
    ("em", "JOHN+promo@Mail.Example.org", None, "john+promo@mail.example.org"),
    ("em", "Ana.Conceição@Example.PT", None, "ana.conceição@example.pt"),
    ("em", "\tuser@example.io\n", None, "user@example.io"),
    # full-width letters are folded by NFKC
    ("em", "\uff35\uff33\uff25\uff32@example.com", None, "user@example.com"),
    # phone: country code + number, digits only, no leading zeros
    ("ph", "+1 (415) 555-0100", None, "14155550100"),
    ("ph", "1-415-555-0100", None, "14155550100"),
    ("ph", "+44 20 7946 0958", None, "442079460958"),
    ("ph", "0044 20 7946 0958", None, "442079460958"),
    ("ph", "+49 (0)30 901820", None, "49030901820"),
    ("ph", "(415) 555-0100", "us", "14155550100"),
    ("ph", "415.555.0100", "us", "14155550100"),
    ("ph", "020 7946 0958", "gb", "442079460958"),
    ("ph", "07700 900123", "gb", "447700900123"),
    ("ph", "030 901820", "de", "4930901820"),
    ("ph", "06 12 34 56 78", "fr", "33612345678"),
    ("ph", "(11) 91234-5678", "br", "5511912345678"),
    ("ph", "+44 20 7946 0958", "us", "442079460958"),
    ("ph", "0044 20 7946 0958", "us", "442079460958"),
    ("ph", 14155550100, None, "14155550100"),
    ("ph", Decimal("14155550100"), None, "14155550100"),
    ("ph", "tel: +1 415 555 0100", None, "14155550100"),
    # E.164 and digits alone, as most sources write them
    ("ph", "+14155550100", None, "14155550100"),
    ("ph", " +442079460958 ", "us", "442079460958"),
    ("ph", "4155550100", "us", "14155550100"),
    ("ph", "00442079460958", "us", "442079460958"),
    # full-width "+" and digits are folded by NFKC
    (
        "ph",
        "\uff0b\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",
        None,
        "14155550100",
    ),
    # first and last names: lowercased, trimmed, letters kept
    ("fn", "Jane", None, "jane"),
    ("fn", "  Jane ", None, "jane"),
    ("fn", "Zoë", None, "zoë"),
    ("fn", "João", None, "joão"),
    ("fn", "José María", None, "josé maría"),
    ("fn", "Mary  Ann", None, "mary ann"),
    ("ln", "Müller", None, "müller"),
    ("ln", "O'Brien", None, "o'brien"),
    ("ln", "Ñúñez", None, "ñúñez"),
    ("ln", "Østergård", None, "østergård"),
    ("ln", "DUPONT", None, "dupont"),
    # city: lowercased, no spaces or punctuation, letters kept
    ("ct", "San Francisco", None, "sanfrancisco"),
    ("ct", "St. Louis", None, "stlouis"),
    ("ct", "München", None, "münchen"),
    ("ct", "São Paulo", None, "sãopaulo"),
    ("ct", "Winston-Salem", None, "winstonsalem"),
    ("ct", "  NEW YORK  ", None, "newyork"),
    ("ct", "Québec", None, "québec"),
    ("ct", "L'Aquila", None, "laquila"),
    # state: two-letter code, lowercased; names by the record's country
    ("st", "CA", None, "ca"),
    ("st", "ca", None, "ca"),
    ("st", "California", None, "ca"),
    ("st", "new york", None, "ny"),
    ("st", "US-TX", None, "tx"),
    ("st", "Ontario", None, "on"),
    ("st", "Bayern", "de", "by"),
    ("st", "BY", "de", "by"),
    ("st", "São Paulo", "br", "sp"),
    ("st", "Texas", "us", "tx"),
    ("st", "  tx ", None, "tx"),
    # zip: US 5 digits; other postcodes lowercase without spaces or dashes
    ("zp", "94107", None, "94107"),
    ("zp", "94107-1234", None, "94107"),
    ("zp", "941071234", None, "94107"),
    ("zp", "SW1A 2AA", None, "sw1a2aa"),
    ("zp", "K1A 0A6", None, "k1a0a6"),
    ("zp", "1012 AB", None, "1012ab"),
    ("zp", "01310-100", None, "01310100"),
    ("zp", "10117", None, "10117"),
    ("zp", Decimal("2000"), None, "2000"),
    # country: ISO-3166 alpha-2, lowercased, from codes and names
    ("country", "US", None, "us"),
    ("country", "us", None, "us"),
    ("country", "USA", None, "us"),
    ("country", "United States", None, "us"),
    ("country", "United States of America", None, "us"),
    ("country", "GBR", None, "gb"),
    ("country", "United Kingdom", None, "gb"),
    ("country", "UK", None, "gb"),
    ("country", "Deutschland", None, "de"),
    ("country", "Germany", None, "de"),
    ("country", "Brasil", None, "br"),
    ("country", "Côte d'Ivoire", None, "ci"),
    # gender: f, m, n
    ("ge", "F", None, "f"),
    ("ge", "female", None, "f"),
    ("ge", "Woman", None, "f"),
    ("ge", "M", None, "m"),
    ("ge", "Male", None, "m"),
    ("ge", "non-binary", None, "n"),
    ("ge", "Non Binary", None, "n"),
    ("ge", "nonbinary", None, "n"),
    # date of birth: YYYYMMDD
    ("db", "1990-07-04", None, "19900704"),
    ("db", "07/04/1990", None, "19900704"),
    ("db", "04.07.1990", None, "19900704"),
    ("db", "19900704", None, "19900704"),
    ("db", "1990/07/04", None, "19900704"),
    ("db", dt.date(1990, 7, 4), None, "19900704"),
    ("db", dt.datetime(1990, 7, 4, 12, 30), None, "19900704"),
    ("db", "1990-07-04T00:00:00Z", None, "19900704"),
    # external id: trimmed, case kept
    ("external_id", "  AbC-123 ", None, "AbC-123"),
    ("external_id", "gid://shopify/Customer/42", None, "gid://shopify/Customer/42"),
    ("external_id", 42, None, "42"),
    # mobile advertising ids: lowercased
    (
        "hashed_maids",
        "38400000-8CF0-11BD-B23E-10B96E40000D",
        None,
        "38400000-8cf0-11bd-b23e-10b96e40000d",
    ),
    (
        "hashed_maids",
        " AEBE52E7-03EE-455A-B3C4-E57283966239 ",
        None,
        "aebe52e7-03ee-455a-b3c4-e57283966239",
    ),
]


@pytest.mark.parametrize(("field", "raw", "country", "normalized"), VECTORS)
def test_hash_vector(field, raw, country, normalized):
    assert hash_value(field, raw, country) == sha(normalized)


@pytest.mark.parametrize(("field", "raw", "country", "normalized"), VECTORS)
def test_the_plain_path_gives_every_vector_too(field, raw, country, normalized):
    # Text goes through the memoized digesters; normalize() is the path of other values.
    assert normalize(field, raw, country) == normalized


def test_there_are_enough_vectors():
    assert len(VECTORS) >= 80


@pytest.mark.parametrize(
    "field",
    [
        "em",
        "ph",
        "fn",
        "ln",
        "ct",
        "st",
        "zp",
        "country",
        "ge",
        "db",
        "external_id",
        "hashed_maids",
    ],
)
@pytest.mark.parametrize("digest", [sha("x@example.com"), sha("x@example.com").upper()])
def test_a_sha256_value_is_passed_through_lowercased_never_hashed_twice(field, digest):
    assert hash_value(field, f" {digest} ") == digest.lower()


# Each peer mistake: (field, raw, country, what the peer sends, what Pinterest's rules give).
PEER_MISTAKES = [
    # RudderStack and Activepieces keep digits only: a UK postcode becomes "12".
    ("zp", "SW1A 2AA", None, "12", "sw1a2aa"),
    # Same rule turns a Canadian postcode into "106".
    ("zp", "K1A 0A6", None, "106", "k1a0a6"),
    # Activepieces strips non-ASCII letters from cities.
    ("ct", "München", None, "mnchen", "münchen"),
    # Segment removes whitespace but keeps punctuation in cities.
    ("ct", "St. Louis", None, "st.louis", "stlouis"),
    # RudderStack keeps inner spaces in cities.
    ("ct", "San Francisco", None, "san francisco", "sanfrancisco"),
    # Segment keeps a phone's leading zeros.
    ("ph", "0044 20 7946 0958", None, "00442079460958", "442079460958"),
    # Stape keeps dots in phones.
    ("ph", "+1 415.555.0100", None, "1415.555.0100", "14155550100"),
    # Everyone hashes a national number without its country code.
    ("ph", "020 7946 0958", "gb", "2079460958", "442079460958"),
    # Segment maps "non-binary" but not "non binary" (whitespace removed first).
    ("ge", "non binary", None, "nonbinary", "n"),
    # Stape sends gender words unmapped.
    ("ge", "Female", None, "female", "f"),
    # Segment and RudderStack send dates of birth as given.
    ("db", "1990-07-04", None, "1990-07-04", "19900704"),
    # Segment lowercases case-sensitive external ids.
    ("external_id", "AbC-123", None, "abc-123", "AbC-123"),
    # No peer maps state names to codes.
    ("st", "California", None, "california", "ca"),
    # No peer maps country names to codes.
    ("country", "United States", None, "unitedstates", "us"),
    # Segment removes all whitespace in names, joining double names.
    ("fn", "Mary Ann", None, "maryann", "mary ann"),
]


@pytest.mark.parametrize(("field", "raw", "country", "mistaken", "correct"), PEER_MISTAKES)
def test_peer_mistakes_are_not_repeated(field, raw, country, mistaken, correct):
    digest = hash_value(field, raw, country)
    assert digest == sha(correct)
    assert digest != sha(mistaken)


def test_rudderstack_style_double_hashing_does_not_happen():
    once = sha("jane@example.com")
    assert hash_value("em", once) == once


@pytest.mark.parametrize(
    ("field", "raw", "country"),
    [
        ("em", "jane.example.com", None),
        ("em", "jane@", None),
        ("ph", "12345", None),
        ("ph", "1234567890123456789", None),
        ("ph", "123", "us"),
        ("ge", "unknown", None),
        ("ge", "prefer not to say", None),
        ("db", "July the fourth", None),
        ("db", "13/45/1990", None),
        ("st", "Île-de-France", "fr"),
        ("st", "Narnia", None),
        ("country", "Atlantis", None),
        ("fn", True, None),
        ("ct", {"a": 1}, None),
    ],
)
def test_values_that_cannot_be_normalized_are_dropped_with_a_value_free_reason(field, raw, country):
    with pytest.raises(DroppedValue) as caught:
        hash_value(field, raw, country)
    if isinstance(raw, str):
        assert raw not in caught.value.reason


def test_build_user_data_uses_the_record_country_before_the_default():
    data, dropped = build_user_data(
        {"ph": "020 7946 0958", "st": "Bayern", "country": "Germany"}, default_country="US"
    )
    assert dropped == []
    assert data["ph"] == [sha("492079460958")]
    assert data["st"] == [sha("by")]
    assert data["country"] == [sha("de")]
    data, _ = build_user_data({"ph": "020 7946 0958"}, default_country="GB")
    assert data["ph"] == [sha("442079460958")]
    data, _ = build_user_data({"ph": "020 7946 0958"})
    assert data["ph"] == [sha("2079460958")]


def test_build_user_data_shapes_dedupes_and_reports_drops():
    raw = {
        "em": ["A@example.com", "a@example.com ", "", None, "bad"],
        "client_ip_address": " 203.0.113.9 ",
        "client_user_agent": "Mozilla/5.0",
        "click_id": "dj0yJnU9abc",
        "partner_id": "ramp-1",
        "ge": "unknown",
        "fn": "   ",
    }
    data, dropped = build_user_data(raw)
    assert data == {
        "em": [sha("a@example.com")],
        "client_ip_address": "203.0.113.9",
        "client_user_agent": "Mozilla/5.0",
        "click_id": "dj0yJnU9abc",
        "partner_id": "ramp-1",
    }
    assert dropped == [
        ("em", "is not an email address"),
        ("ge", "is not a recognized gender (f, m or n)"),
    ]


def test_state_and_country_lookups():
    assert normalize_state("California") == "ca"
    assert normalize_state("CA", "ca") == "ca"
    assert normalize_state("Quebec", "ca") == "qc"
    assert normalize_country("DEU") == "de"
    with pytest.raises(DroppedValue):
        normalize_state("ENG", "gb")


# Numbers and text that no request can carry as they are.


@pytest.mark.parametrize(
    ("field", "raw", "normalized"),
    [
        ("external_id", Decimal("1E+28"), "1" + "0" * 28),
        ("zp", Decimal("1E+28"), "1" + "0" * 28),
        ("external_id", Decimal("1E+4299"), "1" + "0" * 4299),
        ("external_id", 10**4299, "1" + "0" * 4299),
        ("external_id", Decimal("-0.0"), "-0"),  # as before: hashes stay what they were
        ("external_id", Decimal("12.50"), "12.50"),
    ],
)
def test_numbers_in_hashed_fields_are_written_out_in_full(field, raw, normalized):
    assert hash_value(field, raw) == sha(normalized)


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        ("external_id", Decimal("1E+4300"), "is a number of more than 4300 digits"),
        ("zp", Decimal("1E+999999"), "is a number of more than 4300 digits"),
        ("ph", Decimal("1E+999999999999"), "is a number of more than 4300 digits"),
        ("external_id", Decimal("1E-999999"), "is a number of more than 4300 digits"),
        ("ph", Decimal("1E+28"), "is not a phone number (7 to 15 digits expected)"),
        ("external_id", float("nan"), "is not a finite number"),
        ("em", True, "is a boolean, not text"),
    ],
)
def test_numbers_that_cannot_be_identifiers_are_dropped_at_once(field, raw, reason):
    started = time.thread_time()  # CPU time: a loaded machine does not stretch it
    with pytest.raises(DroppedValue) as caught:
        hash_value(field, raw)
    assert caught.value.reason == reason
    assert time.thread_time() - started < 1


@pytest.mark.parametrize("field", ["em", "ph", "fn", "ct", "st", "zp", "country", "external_id"])
def test_text_with_a_lone_surrogate_is_dropped(field):
    with pytest.raises(DroppedValue) as caught:
        hash_value(field, InvalidText("x\ud800@example.com"))
    assert caught.value.reason == "is not valid Unicode (it holds a lone surrogate)"


def test_build_user_data_drops_text_with_a_lone_surrogate_and_keeps_the_rest():
    bad = InvalidText("\ud800x@example.com")
    raw = {
        "em": [bad, "a@example.com"],
        "fn": bad,
        "country": bad,
        "ph": "+1 415 555 0100",
        "client_user_agent": bad,
    }
    data, dropped = build_user_data(raw, "US")
    assert data == {"em": [sha("a@example.com")], "ph": [sha("14155550100")]}
    reason = "is not valid Unicode (it holds a lone surrogate)"
    assert sorted(dropped) == sorted(
        [("em", reason), ("fn", reason), ("country", reason), ("client_user_agent", reason)]
    )


# --- the digesters give the plain rule path's answer -------------------------------------
# text_digester/_digests serve every text value (hash_value, user_data, the fast path) and
# take shortcuts: no dispatch on the key, CPython's SHA-256, the digest check only for texts
# long enough to be one; inside the rules, the phone's digit pattern is skipped for text
# that is digits already (after one "+" or not), and the email's empty check waits until
# the pattern fails. For any text, each digester must give the digest or the reason of the
# plain path: normalize(key, value, country), then hashlib's SHA-256.


def plain_outcome(key, value, country):
    """What the rules say, without memo or shortcut: a digest, or the exception raised."""
    stripped = value.strip()
    if len(stripped) == 64 and is_sha256_hex(stripped):
        return ("digest", stripped.lower())
    try:
        return (
            "digest",
            hashlib.sha256(normalize(key, value, country).encode("utf-8")).hexdigest(),
        )
    except Exception as exc:  # compared as it is
        return (type(exc).__name__, getattr(exc, "reason", str(exc)))


def digester_outcome(key, value, country):
    """What the memoized digester gives, once on a miss and again on the memo's hit."""
    digest_memo(key, country).pop(value, None)  # a miss: the shortcuts run
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(("digest", text_digester(key, country)(value)))
        except Exception as exc:  # compared as it is
            outcomes.append((type(exc).__name__, getattr(exc, "reason", str(exc))))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


_PADDING = st.sampled_from(["", " ", "  ", "\t", "\n", "\u3000", "\xa0", "\x1c", "\u2028"])
_LETTERS = st.sampled_from(
    ["jane", "JOHN", "Jane.Doe", "x", "ana.concei\u00e7\u00e3o", "\u0130", "\u00df"]
)
_ODD = st.sampled_from(
    ["", " ", "@", "@@", ".", "+", "+promo", "a b", "\u00a8", "\u0301", "\uff35", "\ud800", "\x00"]
)
_email_parts = st.lists(
    st.one_of(_LETTERS, _ODD, st.text(max_size=4), st.sampled_from(["example", "com", "co.uk"])),
    max_size=4,
).map("".join)
emails = st.one_of(
    # address-shaped: local part, "@", domain, "." and a top-level domain, each maybe odd
    st.builds(
        lambda pad, local, tag, at, domain, dot, tld, end: (
            f"{pad}{local}{tag}{at}{domain}{dot}{tld}{end}"
        ),
        _PADDING,
        _email_parts,
        st.sampled_from(["", "+promo", "+", "+A.B"]),
        st.sampled_from(["@", "@", "@", "", "@@", " @", "\uff20"]),
        _email_parts,
        st.sampled_from([".", ".", "", "..", "\uff0e"]),
        st.sampled_from(["com", "COM", "org", "", "\u00fc", "c\u00f6m", "c m"]),
        _PADDING,
    ),
    st.text(max_size=30),
)
_PHONE_PIECES = st.one_of(
    st.text("0123456789", min_size=1, max_size=5),
    st.sampled_from([" ", "-", ".", "(", ")", "/", "x", "ext", "A", "\xa0", "\u0663", "\uff11"]),
)
phones = st.one_of(
    st.builds(
        lambda pad, prefix, pieces, end: f"{pad}{prefix}{''.join(pieces)}{end}",
        _PADDING,
        st.sampled_from(["", "", "+", "+", "00", "+00", "0", "++", "tel:", "\uff0b", " +"]),
        st.lists(_PHONE_PIECES, max_size=8),
        _PADDING,
    ),
    # E.164 and digits alone of every length around 7 to 15
    st.builds(
        lambda plus, digits: plus + digits,
        st.sampled_from(["", "+"]),
        st.text("0123456789", max_size=18),
    ),
    st.text(max_size=20),
)
hex_digests = st.builds(
    lambda pad, digest, case, end: pad + case(digest) + end,
    _PADDING,
    st.text(max_size=5).map(lambda text: hashlib.sha256(text.encode()).hexdigest()),
    st.sampled_from([str.lower, str.upper]),
    _PADDING,
)
states = st.builds(
    lambda pad, name, end: pad + name + end,
    _PADDING,
    st.sampled_from(
        ["CA", "ca", "California", "Bayern", "BY", "US-TX", "S\u00e3o Paulo", "Ontario", "IDF", ""]
    ),
    _PADDING,
)
countries = st.sampled_from([None, "US", "us", "GB", "DE", "FR", "BR", "IN", "ZZ"])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(emails, hex_digests), countries)
@example(" Jane.Doe@Example.COM ", None)
@example("", None)
@example("\u3000", None)
def test_the_email_digester_agrees_with_the_plain_rule_path(value, country):
    assert digester_outcome("em", value, country) == plain_outcome("em", value, country)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(phones, hex_digests), countries)
@example("+14155550100", "US")
@example("+9991234567", "US")
@example("4155550100", "US")
@example("\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660", None)
def test_the_phone_digester_agrees_with_the_plain_rule_path(value, country):
    assert digester_outcome("ph", value, country) == plain_outcome("ph", value, country)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(HASHED_KEYS), st.one_of(emails, phones, states, hex_digests), countries)
def test_every_digester_agrees_with_the_plain_rule_path(key, value, country):
    assert digester_outcome(key, value, country) == plain_outcome(key, value, country)


@settings(max_examples=300, deadline=None)
@given(phones, st.sampled_from([None, "US", "GB"]))
def test_the_phone_rule_takes_the_digits_the_pattern_leaves(value, region):
    # The shortcut that skips _NON_DIGITS for E.164 and bare digits, against the pattern:
    # without a region, or with "+", the number is its digits without leading zeros.
    text = text_of(value).strip()
    if region is not None and not text.startswith("+"):
        return
    digits = _NON_DIGITS.sub("", text).lstrip("0")
    if 7 <= len(digits) <= 15:
        assert normalize_phone(value, region) == digits
    else:
        with pytest.raises(DroppedValue):
            normalize_phone(value, region)


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000])
def test_the_memos_sha256_gives_hashlibs_digests(size):
    data = bytes(range(256))[:size] if size <= 256 else b"\xab" * size
    assert hashing._sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_the_memos_use_cpythons_own_sha256_where_there_is_one():
    # Fewer instructions for short texts than OpenSSL's; the same digests (test above).
    chosen = hashing._builtin_sha256()
    assert chosen(b"abc").hexdigest() == hashlib.sha256(b"abc").hexdigest()
    if any(importlib.util.find_spec(name) for name in ("_sha2", "_sha256")):
        assert chosen is not hashlib.sha256


def test_regional_digesters_read_their_own_country():
    assert set(REGIONAL_KEYS) <= set(HASHED_KEYS)
    assert text_digester("ph", "GB")("020 7946 0958") == sha("442079460958")
    assert text_digester("ph", "DE")("030 901820") == sha("4930901820")
    assert text_digester("ph")("020 7946 0958") == sha("2079460958")
    assert text_digester("st", "DE")("Bayern") == sha("by")
