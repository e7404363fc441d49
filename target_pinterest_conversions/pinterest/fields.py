"""The field registry: every Pinterest field a mapping can set, declared once. Pure data.

Each :class:`Field` says where the field lives in an event (its group), what Pinterest's
request schema wants there, how a raw value becomes it (its ``kind``: the converter
or, for hashed ``user_data`` keys, the normalizer) and what it means to a user. The
mapping's accepted keys, the event builder's converters, the privacy module's hashed and
plain keys, the fast path's inline forms and the README's field tables
(:func:`markdown_tables`) are all derived from this table, in its order (which is also
the order of the keys in an event); ``tests/test_fields.py`` holds it equal to Pinterest's
published schema and to the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

USER_DATA = "user_data"
CUSTOM_DATA = "custom_data"
CONTENTS = "contents"
EVENT = "event"


@dataclass(frozen=True)
class Field:
    """One Pinterest field.

    ``kind`` is how a raw value is typed: ``hashed`` (normalized by ``normalizer``, then
    SHA-256), ``plain`` (trimmed text), ``text``, ``integer``, ``decimal`` (a decimal
    string), ``currency``, ``text_list`` (``content_ids``) or ``boolean``.
    ``pinterest_type`` is the JSON type Pinterest's schema gives the field.
    ``description`` is one line of Markdown for the README, saying what the field holds
    (and, for hashed keys, how it is normalized).
    """

    name: str
    group: str
    kind: str
    pinterest_type: str
    description: str
    normalizer: str | None = None


def _hashed(name: str, normalizer: str, description: str) -> Field:
    return Field(name, USER_DATA, "hashed", "array", description, normalizer)


FIELDS: tuple[Field, ...] = (
    _hashed("em", "email", "Email address; trimmed and lowercased, and must look like one."),
    _hashed(
        "ph",
        "phone",
        "Phone number; digits with the country code, no leading zeros, 7 to 15 digits. A "
        "national number gets the country code of the record's `country`, else of "
        "`default_phone_country`.",
    ),
    _hashed(
        "fn",
        "name",
        "First name; lowercased, trimmed, inner spaces collapsed, Unicode letters kept.",
    ),
    _hashed(
        "ln",
        "name",
        "Last name; lowercased, trimmed, inner spaces collapsed, Unicode letters kept.",
    ),
    _hashed(
        "ct", "city", "City; lowercased, spaces and punctuation removed, Unicode letters kept."
    ),
    _hashed(
        "st",
        "state",
        "State or province; its two-letter code, lowercased (names are looked up in "
        "ISO-3166-2 for the record's country).",
    ),
    _hashed(
        "zp",
        "zip",
        "Zip or postcode; US ZIP and ZIP+4 cut to 5 digits, other postcodes lowercased "
        "without spaces or dashes.",
    ),
    _hashed(
        "country",
        "country",
        "Country; ISO-3166 alpha-2 code, lowercased, from codes, alpha-3 codes and names.",
    ),
    _hashed("ge", "gender", "Gender; `f`, `m` or `n`, from common words and letters."),
    _hashed(
        "db",
        "date_of_birth",
        "Date of birth; `YYYYMMDD`, from dates, datetimes and common date texts "
        "(`07/04/1990` is read month first).",
    ),
    _hashed(
        "external_id",
        "external_id",
        "Your id of the user (customer or loyalty id); trimmed, case kept.",
    ),
    _hashed(
        "hashed_maids",
        "maid",
        "Mobile advertising ids (GAID, IDFA); trimmed and lowercased.",
    ),
    Field(
        "client_ip_address",
        USER_DATA,
        "plain",
        "string",
        "The user's IPv4 or IPv6 address; with `client_user_agent`, a match key.",
    ),
    Field(
        "client_user_agent",
        USER_DATA,
        "plain",
        "string",
        "The user's browser user agent; with `client_ip_address`, a match key.",
    ),
    Field(
        "click_id",
        USER_DATA,
        "plain",
        "string",
        "The `_epik` cookie or the `epik` URL parameter.",
    ),
    Field(
        "partner_id",
        USER_DATA,
        "plain",
        "string",
        "A visitor id defined by a third-party partner (e.g. RampID).",
    ),
    Field(
        "value",
        CUSTOM_DATA,
        "decimal",
        "string",
        "Total value of the event; derived from `contents` when not mapped.",
    ),
    Field(
        "currency",
        CUSTOM_DATA,
        "currency",
        "string",
        "Currency of `value` and the prices; without it, Pinterest takes the ad account's.",
    ),
    Field(
        "order_id",
        CUSTOM_DATA,
        "text",
        "string",
        "The order id; it helps Pinterest deduplicate events.",
    ),
    Field(
        "num_items",
        CUSTOM_DATA,
        "integer",
        "integer",
        "Number of items; derived from `contents` (the sum of quantities) when not mapped.",
    ),
    Field(
        "content_ids",
        CUSTOM_DATA,
        "text_list",
        "array",
        "Product ids; derived from `contents` (the items' ids) when not mapped.",
    ),
    Field("content_name", CUSTOM_DATA, "text", "string", "Name of the page or product."),
    Field("content_category", CUSTOM_DATA, "text", "string", "Category of the content."),
    Field("content_brand", CUSTOM_DATA, "text", "string", "Brand of the content."),
    Field("search_string", CUSTOM_DATA, "text", "string", "The user's search text."),
    Field(
        "opt_out_type",
        CUSTOM_DATA,
        "text",
        "string",
        "Privacy opt-out flags, comma-separated: `LDP` for Limited Data Processing.",
    ),
    Field(
        "predicted_ltv",
        CUSTOM_DATA,
        "decimal",
        "string",
        "Predicted lifetime value of the user.",
    ),
    Field(
        "id",
        CONTENTS,
        "text",
        "string",
        "Product id of the item (with a preset, chosen by `content_id`).",
    ),
    Field("item_price", CONTENTS, "decimal", "string", "Unit price, before any discount."),
    Field(
        "quantity",
        CONTENTS,
        "integer",
        "integer",
        "Number of units; a missing quantity counts as 1 in derived totals.",
    ),
    Field("item_name", CONTENTS, "text", "string", "Name of the item."),
    Field("item_category", CONTENTS, "text", "string", "Category of the item."),
    Field("item_brand", CONTENTS, "text", "string", "Brand of the item."),
    Field(
        "partner_name",
        EVENT,
        "text",
        "string",
        "Pinterest's form is `ss-<partner>`; overrides the top-level `partner_name` setting.",
    ),
    Field(
        "event_source_url",
        EVENT,
        "text",
        "string",
        "URL of the page where a web event happened.",
    ),
    Field("app_id", EVENT, "text", "string", "App store id of the app."),
    Field("app_name", EVENT, "text", "string", "Name of the app."),
    Field("app_version", EVENT, "text", "string", "Version of the app."),
    Field("device_brand", EVENT, "text", "string", "Brand of the user's device."),
    Field("device_carrier", EVENT, "text", "string", "Mobile carrier of the user's device."),
    Field("device_model", EVENT, "text", "string", "Model of the user's device."),
    Field("device_type", EVENT, "text", "string", "Type of the user's device."),
    Field("os_version", EVENT, "text", "string", "Version of the device's operating system."),
    Field("language", EVENT, "text", "string", "The user's language, an ISO-639-1 code."),
    Field(
        "opt_out",
        EVENT,
        "boolean",
        "boolean",
        "The user's tracking opt-out (Limit Ad Tracking in apps); leave it unmapped unless "
        "you have it.",
    ),
    Field("wifi", EVENT, "boolean", "boolean", "Whether the device was on Wi-Fi."),
)
"""Every field a mapping may set, in event order (``event_name`` and the other required
top-level fields are the mapping's own keys, not listed here)."""


def names(group: str, *kinds: str) -> tuple[str, ...]:
    """The names of a group's fields, of the given kinds (all kinds when none is given)."""
    return tuple(f.name for f in FIELDS if f.group == group and (not kinds or f.kind in kinds))


def field(group: str, name: str) -> Field:
    """The registry entry of ``group.name``."""
    for entry in FIELDS:
        if entry.group == group and entry.name == name:
            return entry
    raise KeyError(f"{group}.{name}")


GROUP_TITLES: Mapping[str, str] = {
    USER_DATA: "`user_data`",
    CUSTOM_DATA: "`custom_data`",
    CONTENTS: "`contents` items",
    EVENT: "Event-level fields",
}
"""The README heading of each group's table, in event order."""

_KIND_TEXT: Mapping[str, str] = {
    "plain": "plain (trimmed, not hashed)",
    "text": "text",
    "integer": "integer",
    "decimal": "decimal string",
    "currency": "currency (ISO-4217 code, upper-cased)",
    "text_list": "list of text",
    "boolean": 'boolean (`true`/`false`, `1`/`0`, `"yes"`/`"no"`)',
}


def read_as(entry: Field) -> str:
    """How a raw value of ``entry`` is typed, in words (the README's "read as" column)."""
    if entry.kind == "hashed":
        return f"hashed (`{entry.normalizer}` normalizer)"
    return _KIND_TEXT[entry.kind]


def markdown_tables() -> str:
    """The README's field tables: a heading and a Markdown table per group, in order."""
    sections = []
    for group, title in GROUP_TITLES.items():
        rows = [
            f"| `{f.name}` | `{f.pinterest_type}` | {read_as(f)} | {f.description} |"
            for f in FIELDS
            if f.group == group
        ]
        header = ["| key | Pinterest type | read as | description |", "|:--|:--|:--|:--|"]
        sections.append("\n".join([f"#### {title}", "", *header, *rows]))
    return "\n\n".join(sections) + "\n"
