"""The field registry: every Pinterest field a mapping can set, declared once. Pure data.

Each :class:`Field` says where the field lives in an event (its group), what Pinterest's
request schema wants there, and how a raw value becomes it (its ``kind``: the converter
or, for hashed ``user_data`` keys, the normalizer). The mapping's accepted keys, the
event builder's converters, the privacy module's hashed and plain keys and the fast
path's inline forms are all derived from this table, in its order (which is also the
order of the keys in an event); ``tests/test_fields.py`` holds it equal to Pinterest's
published schema and to the README's tables.
"""

from __future__ import annotations

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
    """

    name: str
    group: str
    kind: str
    pinterest_type: str
    normalizer: str | None = None


def _hashed(name: str, normalizer: str) -> Field:
    return Field(name, USER_DATA, "hashed", "array", normalizer)


FIELDS: tuple[Field, ...] = (
    _hashed("em", "email"),
    _hashed("ph", "phone"),
    _hashed("fn", "name"),
    _hashed("ln", "name"),
    _hashed("ct", "city"),
    _hashed("st", "state"),
    _hashed("zp", "zip"),
    _hashed("country", "country"),
    _hashed("ge", "gender"),
    _hashed("db", "date_of_birth"),
    _hashed("external_id", "external_id"),
    _hashed("hashed_maids", "maid"),
    Field("client_ip_address", USER_DATA, "plain", "string"),
    Field("client_user_agent", USER_DATA, "plain", "string"),
    Field("click_id", USER_DATA, "plain", "string"),
    Field("partner_id", USER_DATA, "plain", "string"),
    Field("value", CUSTOM_DATA, "decimal", "string"),
    Field("currency", CUSTOM_DATA, "currency", "string"),
    Field("order_id", CUSTOM_DATA, "text", "string"),
    Field("num_items", CUSTOM_DATA, "integer", "integer"),
    Field("content_ids", CUSTOM_DATA, "text_list", "array"),
    Field("content_name", CUSTOM_DATA, "text", "string"),
    Field("content_category", CUSTOM_DATA, "text", "string"),
    Field("content_brand", CUSTOM_DATA, "text", "string"),
    Field("search_string", CUSTOM_DATA, "text", "string"),
    Field("opt_out_type", CUSTOM_DATA, "text", "string"),
    Field("predicted_ltv", CUSTOM_DATA, "decimal", "string"),
    Field("id", CONTENTS, "text", "string"),
    Field("item_price", CONTENTS, "decimal", "string"),
    Field("quantity", CONTENTS, "integer", "integer"),
    Field("item_name", CONTENTS, "text", "string"),
    Field("item_category", CONTENTS, "text", "string"),
    Field("item_brand", CONTENTS, "text", "string"),
    Field("partner_name", EVENT, "text", "string"),
    Field("event_source_url", EVENT, "text", "string"),
    Field("app_id", EVENT, "text", "string"),
    Field("app_name", EVENT, "text", "string"),
    Field("app_version", EVENT, "text", "string"),
    Field("device_brand", EVENT, "text", "string"),
    Field("device_carrier", EVENT, "text", "string"),
    Field("device_model", EVENT, "text", "string"),
    Field("device_type", EVENT, "text", "string"),
    Field("os_version", EVENT, "text", "string"),
    Field("language", EVENT, "text", "string"),
    Field("opt_out", EVENT, "boolean", "boolean"),
    Field("wifi", EVENT, "boolean", "boolean"),
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
