"""Nearest-name suggestions for messages about a misspelt setting, stream or event name.

Pure functions: they only pick, from the names that are valid, the one a user most
likely meant, so that an error can say "did you mean 'orders'?".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from target_pinterest_conversions.pinterest.vocabulary import (
    CONVERGE_EVENTS,
    OTHER_PLATFORM_EVENTS,
    PINTEREST_EVENT_NAMES,
    SEGMENT_EVENTS,
    name_key,
)


def nearest(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """Return the candidate closest to ``name``, or ``None`` when none is close.

    Case, ``-``, ``_`` and spaces are ignored when comparing (``dryRun``, ``dry-run``
    and ``dry_run`` are the same name); a candidate that equals ``name`` on those
    terms wins outright.
    """
    by_key: dict[str, str] = {}
    for candidate in candidates:
        by_key.setdefault(_key(candidate), candidate)
    key = _key(name)
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=cutoff)
    return by_key[close[0]] if close else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the nearest candidate, or ``""``."""
    match = nearest(name, candidates)
    return f"; did you mean '{match}'?" if match is not None else ""


def _key(name: str) -> str:
    return "".join(c for c in name.casefold() if c not in "-_ .")


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def suggest_event_name(name: str) -> str | None:
    """Return the Pinterest event name a user most likely meant by ``name``, if any.

    Known names from Segment, Converge, Meta and GA4 give their Pinterest equivalent
    (``Purchase`` -> ``checkout``); otherwise the closest spelling of a Pinterest name.
    """
    key = name_key(_CAMEL.sub(" ", name.strip()))
    for table in (OTHER_PLATFORM_EVENTS, SEGMENT_EVENTS, CONVERGE_EVENTS):
        for source, pinterest in table.items():
            if name_key(_CAMEL.sub(" ", source)) == key:
                return pinterest
    return nearest(name, PINTEREST_EVENT_NAMES)
