"""Built-in stream mappings for well-known sources, selected with ``{"preset": name}``.

A preset is an ordinary mapping (the same keys a user writes) whose paths are taken
from the source's published schema. Lists of paths are fallbacks: the first non-empty
value wins. When a preset is bound to a stream's SCHEMA, paths the schema lacks are
dropped instead of failing the run, since one preset serves several tap versions.
Keys given beside ``preset`` override the preset's (see :func:`expand_preset`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from target_pinterest_conversions.pinterest.fields import INFO_GROUPS

# singer-io tap-shopify 3.x `orders` (GraphQL field names; schema in the tap's
# tap_shopify/schemas/orders.json). Billing address first, then shipping address, then
# the customer record, for every identifier.
_SHOPIFY_ADDRESS = ("billingAddress", "shippingAddress", "customer.defaultAddress")


def _fallbacks(field: str) -> list[str]:
    return [f"{prefix}.{field}" for prefix in _SHOPIFY_ADDRESS]


# Shopify's `sourceName`: "web" (online store), "pos", "shopify_draft_order", "iphone" and
# "android" (the Shopify mobile apps' channels), or an app's id for sales channel apps.
# Point-of-sale orders happened in a shop; the mobile apps say their platform; every
# other channel sells on the web, which is also the default for an empty value.
SHOPIFY_ACTION_SOURCES: dict[str, str] = {
    "pos": "offline",
    "web": "web",
    "shopify_draft_order": "web",
    "checkout": "web",
    "iphone": "app_ios",
    "ios": "app_ios",
    "android": "app_android",
}

TAP_SHOPIFY_ORDERS: dict[str, Any] = {
    "event_name": "checkout",
    "action_source_from": "sourceName",
    "action_source_map": SHOPIFY_ACTION_SOURCES,
    "action_source": "web",
    "event_time": "createdAt",
    "event_id": "id",
    "user_data": {
        "em": ["email", "customer.email"],
        "ph": ["phone", *_fallbacks("phone")],
        "fn": [*_fallbacks("firstName"), "customer.firstName"],
        "ln": [*_fallbacks("lastName"), "customer.lastName"],
        "ct": _fallbacks("city"),
        "st": _fallbacks("provinceCode"),
        "zp": _fallbacks("zip"),
        "country": _fallbacks("countryCodeV2"),
        "external_id": "customer.id",
        "client_ip_address": "clientIp",
        # Pinterest appends epik=<click id> to an ad's landing URL; the last visit first.
        "click_id": {
            "url_param": "epik",
            "from": [
                "customerJourneySummary.lastVisit.landingPage",
                "customerJourneySummary.firstVisit.landingPage",
            ],
        },
    },
    "custom_data": {
        "value": "totalPriceSet.shopMoney.amount",
        "currency": "currencyCode",
        "order_id": "name",
        "num_items": "subtotalLineItemsQuantity",
    },
    "contents": {
        "from": "lineItems",
        "id": "product.id",
        "item_price": "originalUnitPriceSet.shopMoney.amount",
        "quantity": "quantity",
        "item_name": "title",
    },
    # Test orders (Shopify's bogus gateway) are no conversions. Override with your own
    # skip_when: [] sends them, and adding {"path": "cancelledAt", "is": "present"} also
    # skips cancelled orders.
    "skip_when": [{"path": "test", "equals": True}],
}

# A table of e-commerce events, one row per event, as CDPs and warehouses keep them
# (Segment- or Converge-style event names in an `event` column).
ECOMMERCE_EVENTS: dict[str, Any] = {
    "event_name_from": ["event", "event_name", "event_type", "name"],
    "event_name_map": ["segment", "converge"],
    "event_name_fallback": "custom",
    "action_source_from": ["action_source", "channel"],
    "action_source": "web",
    "event_time": ["timestamp", "event_time", "occurred_at", "sent_at", "created_at"],
    "event_id": ["event_id", "message_id", "messageId", "id"],
    "user_data": {
        "em": ["email", "user_email", "context.traits.email", "traits.email"],
        "ph": ["phone", "user_phone", "context.traits.phone", "traits.phone"],
        "fn": ["first_name", "context.traits.first_name"],
        "ln": ["last_name", "context.traits.last_name"],
        "ct": ["city", "context.traits.address.city"],
        "st": ["state", "context.traits.address.state"],
        "zp": ["zip", "postal_code", "context.traits.address.postal_code"],
        "country": ["country", "context.traits.address.country"],
        "external_id": ["user_id", "userId", "customer_id"],
        "client_ip_address": ["ip", "client_ip", "context.ip"],
        "client_user_agent": ["user_agent", "context.userAgent"],
        "click_id": [
            "epik",
            "_epik",
            "click_id",
            {"url_param": "epik", "from": ["context.page.url", "page_url", "landing_page"]},
        ],
    },
    "custom_data": {
        "value": ["value", "revenue", "total", "properties.value", "properties.revenue"],
        "currency": ["currency", "properties.currency"],
        "order_id": ["order_id", "properties.order_id"],
        "search_string": ["query", "search_string", "properties.query"],
        "opt_out_type": ["opt_out_type"],
    },
    "contents": {
        "from": ["products", "items", "properties.products"],
        "id": ["product_id", "sku", "id"],
        "item_price": "price",
        "quantity": "quantity",
        "item_name": "name",
        "item_category": "category",
        "item_brand": "brand",
    },
}

PRESETS: Mapping[str, Mapping[str, Any]] = {
    "tap-shopify/orders": TAP_SHOPIFY_ORDERS,
    "ecommerce-events": ECOMMERCE_EVENTS,
}

CONTENT_ID_PATHS: Mapping[str, Mapping[str, Any]] = {
    "tap-shopify/orders": {"product_id": "product.id", "variant_id": "variant.id", "sku": "sku"},
    "ecommerce-events": {
        "product_id": ["product_id", "id"],
        "variant_id": ["variant_id", "variant"],
        "sku": ["sku"],
    },
}
"""For each preset, the item path that each ``content_id`` mode reads."""

_NESTED = ("user_data", "custom_data", "contents", *INFO_GROUPS)
# Giving any trigger key replaces the preset's whole group: a user's constant event name
# must not be overridden by the preset's event name column, and the reverse.
_GROUPS: tuple[tuple[frozenset[str], tuple[str, ...]], ...] = (
    (
        frozenset({"event_name", "event_name_from"}),
        ("event_name", "event_name_from", "event_name_map", "event_name_fallback"),
    ),
    (
        frozenset({"action_source", "action_source_from"}),
        ("action_source", "action_source_from", "action_source_map"),
    ),
)


def expand_preset(spec: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Merge a stream mapping that names a preset with that preset.

    Top-level keys given beside the preset replace the preset's; ``user_data``,
    ``custom_data``, ``contents``, ``app_info`` and ``device_info`` are merged key by
    key, and a key set to ``null`` removes the preset's. Giving ``event_name`` or
    ``event_name_from`` replaces the preset's event-name keys, and ``action_source`` or
    ``action_source_from`` its action-source keys. ``content_id`` picks the item id path.

    Returns:
        The merged mapping and the dotted names of the keys that came from the preset.

    Raises:
        KeyError: the preset does not exist (the caller names the setting).

    """
    name = spec["preset"]
    base = copy.deepcopy(dict(PRESETS[name]))
    user = {k: v for k, v in spec.items() if k != "preset"}
    for triggers, keys in _GROUPS:
        if triggers & user.keys():
            for key in keys:
                base.pop(key, None)
    from_preset = {k for k in base if k not in user}
    for group in _NESTED:
        from_preset |= {
            f"{group}.{k}" for k in base.get(group, {}) if k not in (user.get(group) or {})
        }
    merged = {**base}
    for key, value in user.items():
        if key in _NESTED and isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            combined = {**base[key], **value}
            merged[key] = {k: v for k, v in combined.items() if v is not None}
        elif key == "content_id":
            continue
        else:
            merged[key] = value
    mode = spec.get("content_id")
    if mode is not None and isinstance(merged.get("contents"), Mapping):
        paths = CONTENT_ID_PATHS[name]
        if mode not in paths:
            raise ValueError(f"content_id: expected one of {', '.join(paths)}")
        merged["contents"] = {**merged["contents"], "id": paths[mode]}
        from_preset.discard("contents.id")
    merged = {k: v for k, v in merged.items() if v is not None}
    return merged, from_preset
