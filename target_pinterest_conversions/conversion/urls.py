"""One query parameter read from a URL: click ids from landing pages. Pure.

Pinterest appends ``epik=<click id>`` to the landing URL of an ad click, and stores keep
the landing URL, not the parameter. A value source ``{"url_param": "epik", "from": ...}``
reads it with :func:`url_param`.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from target_pinterest_conversions.pinterest.limits import mark_invalid_text


def url_param(url: object, name: str) -> str | None:
    """Return the first value of query parameter ``name`` in ``url``, else ``None``.

    ``url`` may be absolute or relative (``/products/x?epik=...``). Names and values are
    percent-decoded; ``+`` is kept as it is, since click ids are base64 text that may hold
    it. A repeated parameter gives its first value; an empty one counts as absent.
    """
    if not isinstance(url, str) or "?" not in url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:  # an invalid IPv6 host: no URL, so no parameter
        return None
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if unquote(key) == name:
            text = unquote(value).strip()
            # A lone surrogate in the record's text stays marked, as the reader marks it.
            return mark_invalid_text(text) if text else None
    return None
