"""Match signals: what in an event lets Pinterest match it, named as Pinterest scores it. Pure.

Pinterest's Event Quality Score (``GET /v5/ad_accounts/{ad_account_id}/conversion_eqs``,
API 5.22+) rates each event source and type by ``quality_components``: the share of
events carrying a hashed email, a mobile ad id, an IP address, and so on. The run
counts the same components (plus the phone, which Pinterest matches on but does not
score apart) in the events it sends, so a mapping that stops carrying one is seen on
the first run rather than weeks later in Ads Manager.

An event's signals are one integer, a bit per signal (:func:`signal_mask`), found from
the shape of its keys: counting them costs a few dictionary lookups per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_pinterest_conversions.pinterest.vocabulary import PINTEREST_EVENT_NAMES

SIGNALS: tuple[str, ...] = (
    "hashed_email",
    "hashed_phone",
    "hashed_maid",
    "ip_address",
    "user_agent",
    "click_id_epik",
    "advertiser_external_id",
    "external_event_id",
    "order_id",
    "order_value",
    "product_id",
    "source_url",
)
"""The signals counted, in the order the summary shows them: Pinterest's EQS
``quality_components`` names, and ``hashed_phone``."""

_USER_DATA_SIGNALS: tuple[tuple[str, int], ...] = tuple(
    (key, 1 << SIGNALS.index(name))
    for key, name in (
        ("em", "hashed_email"),
        ("ph", "hashed_phone"),
        ("hashed_maids", "hashed_maid"),
        ("client_ip_address", "ip_address"),
        ("client_user_agent", "user_agent"),
        ("click_id", "click_id_epik"),
        ("external_id", "advertiser_external_id"),
    )
)
_EVENT_ID = 1 << SIGNALS.index("external_event_id")
_ORDER_ID = 1 << SIGNALS.index("order_id")
_ORDER_VALUE = 1 << SIGNALS.index("order_value")
_PRODUCT_ID = 1 << SIGNALS.index("product_id")
_SOURCE_URL = 1 << SIGNALS.index("source_url")


def _mask(user_keys: tuple[str, ...], custom_keys: tuple[str, ...], url: bool, id_: bool) -> int:
    mask = (_EVENT_ID if id_ else 0) | (_SOURCE_URL if url else 0)
    for key, bit in _USER_DATA_SIGNALS:
        if key in user_keys:
            mask |= bit
    if "order_id" in custom_keys:
        mask |= _ORDER_ID
    if "value" in custom_keys:
        mask |= _ORDER_VALUE
    # The event builder derives content_ids from the contents' ids whenever any item has
    # one (event.derive_from_contents): it alone tells whether a product id was sent.
    if "content_ids" in custom_keys:
        mask |= _PRODUCT_ID
    return mask


_MASKS: dict[tuple[Any, ...], int] = {}
_MASKS_KEPT = 4096
"""Distinct key shapes remembered; a stream's events have a few (its mapping's)."""
_NONE: Mapping[str, Any] = {}


def signal_mask(event: Mapping[str, Any]) -> int:
    """Return the signals ``event`` carries, one bit per entry of :data:`SIGNALS`.

    The events are the target's own, already valid: a key present holds a value (empty
    fields are left out when the event is built), so an event's keys decide its signals,
    and the answer is remembered by their shape.
    """
    shape = (
        tuple(event.get("user_data") or _NONE),
        tuple(event.get("custom_data") or _NONE),
        "event_source_url" in event,
        "event_id" in event,
    )
    mask = _MASKS.get(shape)
    if mask is None:
        mask = _mask(*shape)
        if len(_MASKS) < _MASKS_KEPT:
            _MASKS[shape] = mask
    return mask


OTHER_EVENT_NAMES = "(other event names)"
"""Where events named otherwise than Pinterest's are counted: such a name may come from
a record (``event_name_fallback: as_is``), and counts never show a record's data."""


def counted_name(event: Mapping[str, Any]) -> str:
    """The event name the signals are counted under: Pinterest's own, else one for all."""
    name = event.get("event_name")
    return name if name in PINTEREST_EVENT_NAMES else OTHER_EVENT_NAMES
