"""Event names and action sources: Pinterest's own, and the common vocabularies mapped to them.

Pure data and one lookup key function. Source event names are matched case-insensitively
and with ``_``, ``-`` and repeated spaces treated as one space, so ``Order Completed``,
``order_completed`` and ``ORDER-COMPLETED`` are the same name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ACTION_SOURCES: tuple[str, ...] = ("web", "app_android", "app_ios", "offline")

PINTEREST_EVENT_NAMES: frozenset[str] = frozenset(
    {
        "add_payment_info",
        "add_to_cart",
        "add_to_wishlist",
        "app_install",
        "app_open",
        "checkout",
        "contact",
        "custom",
        "customize_product",
        "find_location",
        "initiate_checkout",
        "lead",
        "page_visit",
        "schedule",
        "search",
        "signup",
        "start_trial",
        "submit_application",
        "subscribe",
        "view_category",
        "view_content",
        "watch_video",
    },
)
"""Names in Pinterest's spec (15) and docs (7 more); others are sent with a warning."""

SEGMENT_EVENTS: Mapping[str, str] = {
    "Order Completed": "checkout",
    "Product Added": "add_to_cart",
    "Product Added to Wishlist": "add_to_wishlist",
    "Products Searched": "search",
    "Product List Filtered": "search",
    "Checkout Started": "initiate_checkout",
    "Payment Info Entered": "add_payment_info",
    "Product Viewed": "view_content",
    "Product List Viewed": "view_category",
    "Product Category Viewed": "view_category",
    "Signed Up": "signup",
    "Generate Lead": "lead",
    "Lead Generated": "lead",
    "Subscription Started": "subscribe",
    "Trial Started": "start_trial",
    "Application Installed": "app_install",
    "Application Opened": "app_open",
    "Video Playback Started": "watch_video",
    "Page Viewed": "page_visit",
    "page": "page_visit",
}
"""Segment's e-commerce spec event names."""

CONVERGE_EVENTS: Mapping[str, str] = {
    "$page_load": "page_visit",
    "Viewed Product": "page_visit",
    "Viewed Collection": "view_category",
    "Added To Cart": "add_to_cart",
    "Searched": "search",
    "Subscribed To Newsletter": "lead",
    "Started Checkout": "initiate_checkout",
    "Added Payment Info": "add_payment_info",
    "Placed Order": "checkout",
}
"""Converge's default destination mapping for Pinterest."""

BUILTIN_EVENT_MAPS: Mapping[str, Mapping[str, str]] = {
    "segment": SEGMENT_EVENTS,
    "converge": CONVERGE_EVENTS,
}

_SEPARATORS = re.compile(r"[\s_-]+")


def name_key(name: str) -> str:
    """Return the lookup key of a source event name or action source."""
    return _SEPARATORS.sub(" ", name.strip()).casefold()


OTHER_PLATFORM_EVENTS: Mapping[str, str] = {
    # Meta pixel / Conversions API standard events
    "Purchase": "checkout",
    "AddToCart": "add_to_cart",
    "AddToWishlist": "add_to_wishlist",
    "AddPaymentInfo": "add_payment_info",
    "InitiateCheckout": "initiate_checkout",
    "ViewContent": "view_content",
    "PageView": "page_visit",
    "CompleteRegistration": "signup",
    "StartTrial": "start_trial",
    "SubmitApplication": "submit_application",
    "FindLocation": "find_location",
    "CustomizeProduct": "customize_product",
    # Google Analytics 4 recommended events
    "begin_checkout": "initiate_checkout",
    "view_item": "view_content",
    "view_item_list": "view_category",
    "sign_up": "signup",
    "generate_lead": "lead",
    "page_view": "page_visit",
    # Plain words people reach for
    "order": "checkout",
    "order_placed": "checkout",
    "sale": "checkout",
    "conversion": "checkout",
    "add_to_basket": "add_to_cart",
    "registration": "signup",
    "register": "signup",
    "page_load": "page_visit",
    "pageview": "page_visit",
    "view": "page_visit",
    "install": "app_install",
}
"""Other platforms' event names (Meta, GA4) and common words, for suggestions only."""
