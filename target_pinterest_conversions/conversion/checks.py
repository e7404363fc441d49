"""Checks an event must pass before it is sent. Pure: no I/O.

The rules come from Pinterest's request schema (required fields, the ``user_data``
match-key rule, at most 1000 events a request) and from its documented time window:
``event_time`` may not be in the future, and events older than 7 days are rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_pinterest_conversions.pinterest.vocabulary import ACTION_SOURCES, PINTEREST_EVENT_NAMES

MAX_EVENT_AGE_SECONDS = 7 * 24 * 3600

KNOWN_EVENT_NAMES = PINTEREST_EVENT_NAMES

REQUIRED_FIELDS: tuple[str, ...] = (
    "event_name",
    "action_source",
    "event_time",
    "event_id",
    "user_data",
)


def has_match_key(user_data: Mapping[str, Any]) -> bool:
    """Pinterest needs ``em``, ``hashed_maids``, or both IP address and user agent."""
    return bool(
        user_data.get("em")
        or user_data.get("hashed_maids")
        or (user_data.get("client_ip_address") and user_data.get("client_user_agent")),
    )


def validate_event(event: Mapping[str, Any], now: int) -> list[str]:
    """Return the reasons ``event`` cannot be sent; an empty list means it can.

    Args:
        event: a fully built event, ``user_data`` already hashed.
        now: the current Unix time in seconds.

    """
    # Every event is checked: one expression settles the usual valid one, and only
    # an event it cannot settle is examined rule by rule.
    user_data = event.get("user_data")
    event_time = event.get("event_time")
    if (
        event.get("event_name")
        and event.get("event_id")
        and event.get("action_source") in ACTION_SOURCES
        and type(user_data) is dict
        and has_match_key(user_data)
        and type(event_time) is int
        and now - MAX_EVENT_AGE_SECONDS <= event_time <= now
    ):
        return []
    return _reasons(event, now)


def _reasons(event: Mapping[str, Any], now: int) -> list[str]:
    """Check ``event`` rule by rule; the reasons it breaks them."""
    reasons = [f"{name} is missing" for name in REQUIRED_FIELDS if event.get(name) in (None, "")]
    if reasons:
        return reasons
    if event["action_source"] not in ACTION_SOURCES:
        reasons.append("action_source is not one of " + ", ".join(ACTION_SOURCES))
    if not has_match_key(event["user_data"]):
        reasons.append(
            "user_data has no match key: needs em, hashed_maids, "
            "or both client_ip_address and client_user_agent",
        )
    event_time = event["event_time"]
    if event_time > now:
        reasons.append("event_time is in the future")
    elif now - event_time > MAX_EVENT_AGE_SECONDS:
        reasons.append("event_time is more than 7 days old")
    return reasons
