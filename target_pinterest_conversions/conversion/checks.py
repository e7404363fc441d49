"""Checks an event must pass before it is sent. Pure: no I/O.

The rules come from Pinterest's request schema (required fields, the ``user_data``
match-key rule, at most 1000 events a request) and from its documented time window:
``event_time`` may not be in the future, and events older than 7 days are rejected.

The output decides the window and the match keys: the API takes 7 days, Ads Manager's
CSV upload (``output: csv``) takes 30 days (28 here, leaving 2 for the upload), an email
or a mobile ad id, and (the one event type whose spelling its specification confirms)
checkout events only. ``output: api+csv`` routes each event by its age: up to 7 days
old it takes the API's rules, older the CSV's (``pinterest.limits.route``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_pinterest_conversions.pinterest.limits import MAX_EVENT_AGE_SECONDS, route
from target_pinterest_conversions.pinterest.vocabulary import ACTION_SOURCES, PINTEREST_EVENT_NAMES

CSV_UPLOAD_MARGIN_SECONDS = 2 * 24 * 3600
"""Time left to upload a CSV file: its rows must still be in the window at upload."""
CSV_MAX_EVENT_AGE_SECONDS = 30 * 24 * 3600 - CSV_UPLOAD_MARGIN_SECONDS
"""The CSV output's window: Ads Manager's 30 days, less the upload margin."""
ROUTED = "api+csv"
"""The output that sends recent events to the API and writes older ones to the CSV."""
OUTPUTS: tuple[str, ...] = ("api", "csv", ROUTED)
MAX_EVENT_AGE: dict[str, int] = {
    "api": MAX_EVENT_AGE_SECONDS,
    "csv": CSV_MAX_EVENT_AGE_SECONDS,
    ROUTED: CSV_MAX_EVENT_AGE_SECONDS,
}
"""The oldest event each output takes, in seconds."""
TOO_OLD: dict[str, str] = {
    "api": "event_time is more than 7 days old: the API takes 7 days; output: csv takes 28",
    "csv": (
        "event_time is more than 28 days old: Ads Manager's CSV upload takes 30 days, "
        "and 2 are left for the upload"
    ),
    ROUTED: (
        "event_time is more than 28 days old: output api+csv sends events up to 7 days old "
        "to the API and writes those up to 28 days old to Ads Manager's CSV (30 days, 2 "
        "left for the upload); Pinterest takes older ones nowhere"
    ),
}
CSV_NO_MATCH_KEY_ROUTED = (
    "user_data has no match key for Ads Manager's CSV, where output api+csv writes events "
    "more than 7 days old: needs em or hashed_maids"
)
CSV_EVENT_NAMES = frozenset({"checkout"})
"""Event names the CSV output writes: its specification confirms only ``Checkout``."""
CSV_NO_MATCH_KEY = "user_data has no match key for the CSV: needs em or hashed_maids"

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


def has_csv_match_key(user_data: Mapping[str, Any]) -> bool:
    """Ads Manager's CSV needs an ``email`` or a ``madid`` column: ``em`` or ``hashed_maids``."""
    return bool(user_data.get("em") or user_data.get("hashed_maids"))


def validate_event(event: Mapping[str, Any], now: int, output: str = "api") -> list[str]:
    """Return the reasons ``event`` cannot be sent; an empty list means it can.

    Args:
        event: a fully built event, ``user_data`` already hashed.
        now: the current Unix time in seconds.
        output: ``api``, ``csv`` or ``api+csv``, which sets the time window and the
            CSV's own rules (for ``api+csv``, those of the event's route,
            :func:`~target_pinterest_conversions.pinterest.limits.route`).

    """
    if output == ROUTED:
        return _routed_reasons(event, now)
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
        and now - MAX_EVENT_AGE[output] <= event_time <= now
        and (output == "api" or _csv_writable(event, user_data))
    ):
        return []
    return _reasons(event, now, output)


def _routed_reasons(event: Mapping[str, Any], now: int) -> list[str]:
    """``api+csv``: the rules of the event's :func:`route`, or its window's."""
    event_time = event.get("event_time")
    if type(event_time) is not int or now - event_time > MAX_EVENT_AGE[ROUTED]:
        return _reasons(event, now, ROUTED)
    rules = route(event_time, now)
    if not validate_event(event, now, rules):
        return []
    return _reasons(event, now, rules, routed=rules == "csv")


def _csv_writable(event: Mapping[str, Any], user_data: Mapping[str, Any]) -> bool:
    return event.get("event_name") in CSV_EVENT_NAMES and has_csv_match_key(user_data)


def _reasons(
    event: Mapping[str, Any], now: int, output: str = "api", *, routed: bool = False
) -> list[str]:
    """Check ``event`` rule by rule; the reasons it breaks them.

    ``routed``: ``api+csv`` sent the event to the CSV for its age, which its CSV
    reasons say.
    """
    csv_rule = (
        "output api+csv writes events more than 7 days old to Ads Manager's CSV, which takes"
        if routed
        else "output: csv writes"
    )
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
    elif output == "csv" and not has_csv_match_key(event["user_data"]):
        reasons.append(CSV_NO_MATCH_KEY_ROUTED if routed else CSV_NO_MATCH_KEY)
    if output == "csv" and event["event_name"] not in CSV_EVENT_NAMES:
        reasons.append(
            f"event_name '{event['event_name']}': {csv_rule} checkout events only "
            "(the one event_type Pinterest's CSV specification spells out)",
        )
    event_time = event["event_time"]
    if event_time > now:
        reasons.append("event_time is in the future")
    elif now - event_time > MAX_EVENT_AGE[output]:
        reasons.append(TOO_OLD[output])
    return reasons
