"""The field registry: every Pinterest field a mapping can set, declared once. Pure data.

Each :class:`Field` says where the field lives in an event (its group), what Pinterest's
request schema wants there, how a raw value becomes it (its ``kind``: the converter
or, for hashed ``user_data`` keys, the normalizer) and what it means to a user. The
mapping's accepted keys, the event builder's converters, the privacy module's hashed and
plain keys and the fast path's inline forms are all derived from this table, in its order;
``tests/test_fields.py`` holds it, types and limits, equal to Pinterest's published schema,
and the README's field tables equal to the tables it generates from it.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

USER_DATA = "user_data"
CUSTOM_DATA = "custom_data"
CONTENTS = "contents"
EVENT = "event"
APP_INFO = "app_info"
DEVICE_INFO = "device_info"

INFO_GROUPS: tuple[str, ...] = (APP_INFO, DEVICE_INFO)
"""Groups sent as an object of their own on the event, in event order. A value of theirs
that cannot be typed or breaks a limit is left out of the event (and counted), never
the reason an event is not sent."""


@dataclass(frozen=True)
class Field:
    """One Pinterest field.

    ``kind`` is how a raw value is typed: ``hashed`` (normalized by ``normalizer``, then
    SHA-256), ``plain`` (trimmed text), ``text``, ``integer``, ``decimal`` (a decimal
    string), ``currency``, ``text_list`` (``content_ids``, ``languages``), ``boolean`` or
    ``time`` (Unix seconds, read as ``event_time`` is).
    ``pinterest_type`` is the JSON type Pinterest's schema gives the field.
    ``description`` is one line of Markdown for the README, saying what the field holds
    (and, for hashed keys, how it is normalized).

    The limits are Pinterest's schema's, for a typed value: ``max_length`` (characters),
    ``minimum`` and ``maximum`` (inclusive), ``enum`` (the values allowed) and
    ``max_items`` (of a list).
    """

    name: str
    group: str
    kind: str
    pinterest_type: str
    description: str
    normalizer: str | None = None
    _: KW_ONLY
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    max_items: int | None = None


def _hashed(name: str, normalizer: str, description: str) -> Field:
    return Field(name, USER_DATA, "hashed", "array", description, normalizer)


def _text(group: str, name: str, max_length: int, description: str) -> Field:
    return Field(name, group, "text", "string", description, max_length=max_length)


def _count(group: str, name: str, maximum: int, description: str) -> Field:
    return Field(name, group, "integer", "integer", description, minimum=0, maximum=maximum)


def _choice(group: str, name: str, enum: tuple[str, ...], description: str) -> Field:
    return Field(name, group, "text", "string", description, enum=enum)


_GB = 1_048_576  # Pinterest's bound of the storage sizes, in GB


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
    _text(APP_INFO, "app_id", 200, "App id in Google Play, the App Store or another store."),
    _text(APP_INFO, "app_name", 200, "Name of the app."),
    _text(APP_INFO, "app_package_name", 200, "Package name of the app (`com.example.app`)."),
    _text(APP_INFO, "app_store", 100, "Store the app was installed from (`Google Play Store`)."),
    _text(APP_INFO, "app_version", 100, "Version of the app."),
    Field(
        "install_time",
        APP_INFO,
        "time",
        "integer",
        "When the app was installed.",
        minimum=0,
    ),
    _text(APP_INFO, "user_agent", 16384, "The `User-Agent` request header (web events)."),
    _count(APP_INFO, "window_height", 30720, "Inner height of the window or viewport."),
    _count(APP_INFO, "window_width", 30720, "Inner width of the window or viewport."),
    _count(DEVICE_INFO, "battery_level", 100, "Battery charge level, in percent."),
    _text(DEVICE_INFO, "brand", 100, "Brand of the device."),
    _text(DEVICE_INFO, "carrier", 100, "Mobile carrier of the device."),
    _count(DEVICE_INFO, "cpu_cores", 1152, "Number of CPU cores."),
    _count(DEVICE_INFO, "external_storage_free_space", _GB, "Free external storage, in GB."),
    _count(DEVICE_INFO, "external_storage_size", _GB, "External storage size, in GB."),
    _choice(
        DEVICE_INFO,
        "form_factor",
        ("desktop", "laptop", "cellphone", "tablet", "smartwatch", "tv", "vr", "console", "other"),
        "Form factor of the device.",
    ),
    _text(DEVICE_INFO, "kernel_version", 100, "Kernel version (`uname -r`)."),
    Field(
        "languages",
        DEVICE_INFO,
        "text_list",
        "array",
        "Languages installed by the user, ISO-639-1 codes.",
        max_items=100,
    ),
    _text(DEVICE_INFO, "locale", 35, "Locale of the device, BCP-47 (`en-us`)."),
    _text(DEVICE_INFO, "model", 100, "Model of the device."),
    _choice(
        DEVICE_INFO,
        "network_type",
        (
            "wifi",
            "cellular_2g",
            "cellular_3g",
            "cellular_4g",
            "cellular_5g",
            "cellular_6g",
            "ethernet",
            "unknown",
        ),
        "Network the device was on.",
    ),
    _choice(
        DEVICE_INFO,
        "os_family",
        ("ios", "android", "macos", "windows", "linux", "bsd", "other"),
        "Family of the operating system.",
    ),
    _text(DEVICE_INFO, "os_name", 100, "Short name of the operating system (`11`, `Ubuntu`)."),
    _text(DEVICE_INFO, "os_release_name", 100, "Marketing name of the OS release (`Sequoia`)."),
    _text(DEVICE_INFO, "os_version", 100, "Full version of the operating system (`18.3`)."),
    _count(DEVICE_INFO, "screen_density", 100_000, "Screen density, in PPI."),
    _count(DEVICE_INFO, "screen_height", 30720, "Screen height, in pixels."),
    _count(DEVICE_INFO, "screen_width", 30720, "Screen width, in pixels."),
    _count(DEVICE_INFO, "storage_free_space", _GB, "Free internal storage, in GB."),
    _count(DEVICE_INFO, "storage_size", _GB, "Internal storage size, in GB."),
    _text(DEVICE_INFO, "timezone", 40, "Time zone of the device (`America/New_York`)."),
    _text(DEVICE_INFO, "timezone_abbr", 5, "Abbreviation of the time zone (`PDT`)."),
    _text(DEVICE_INFO, "type", 100, "Type of the device (`iPhone`, `Android`)."),
)
"""Every field a mapping may set, in event order (``event_name`` and the other required
top-level fields are the mapping's own keys, not listed here); within ``app_info`` and
``device_info``, Pinterest's order."""


def names(group: str, *kinds: str) -> tuple[str, ...]:
    """The names of a group's fields, of the given kinds (all kinds when none is given)."""
    return tuple(f.name for f in FIELDS if f.group == group and (not kinds or f.kind in kinds))


def field(group: str, name: str) -> Field:
    """The registry entry of ``group.name``."""
    for entry in FIELDS:
        if entry.group == group and entry.name == name:
            return entry
    raise KeyError(f"{group}.{name}")
