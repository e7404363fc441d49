"""``url_param``: one query parameter read from an absolute or relative URL."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_pinterest_conversions.conversion.urls import url_param
from target_pinterest_conversions.pinterest.limits import InvalidText


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/products/x?utm_source=pinterest&epik=dj0yJnU9abc", "dj0yJnU9abc"),
        ("https://shop.example/p?epik=abc#frag", "abc"),
        ("https://shop.example/p?epik=a%2Bb+c%20d", "a+b+c d"),  # + kept, %xx decoded
        ("/p?epik=first&epik=second", "first"),
        ("/p?%65pik=encoded-name", "encoded-name"),
        ("/p?epik=dj0yJnU9abc==", "dj0yJnU9abc=="),  # base64 padding stays
        ("/p?epik=%20%20", None),  # blank counts as absent
        ("/p?epik=", None),
        ("/p?epik", None),
        ("/p?utm_source=x", None),
        ("/p#epik=abc", None),  # a fragment is no query
        ("no url at all", None),
        ("http://[::1/p?epik=abc", None),  # an invalid host: no URL
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_url_param(url, expected):
    assert url_param(url, "epik") == expected


def test_a_lone_surrogate_stays_marked():
    value = url_param("/p?epik=a\ud800b", "epik")
    assert isinstance(value, InvalidText)


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(min_size=1).filter(lambda s: s.strip() and "\x00" not in s),
    before=st.lists(st.sampled_from(["utm_source=x", "a=1", "epikx=no", "e=epik"]), max_size=3),
    absolute=st.booleans(),
)
def test_an_encoded_value_reads_back_trimmed(value, before, absolute):
    try:
        encoded = quote(value, safe="")
    except UnicodeEncodeError:  # lone surrogates cannot be written in a URL
        return
    base = "https://shop.example/products/x" if absolute else "/products/x"
    url = f"{base}?{'&'.join([*before, f'epik={encoded}', 'epik=later'])}"
    assert url_param(url, "epik") == value.strip()
