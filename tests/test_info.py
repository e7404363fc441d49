"""``app_info`` and ``device_info``: each value typed by its kind and held to Pinterest's
limits; a value that breaks one is left out and reported, the event still goes."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any

import pytest

from target_pinterest_conversions.conversion._codegen.fastpath import compile_fast_path
from target_pinterest_conversions.conversion.info import (
    build_info,
    checked_converter,
)
from target_pinterest_conversions.conversion.pipeline import convert_record, record_key
from target_pinterest_conversions.conversion.text import DroppedValue
from target_pinterest_conversions.mapping.binding import MappingSchemaError, bind_mapping
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.spec import MappingConfigError
from target_pinterest_conversions.pinterest.fields import (
    APP_INFO,
    DEVICE_INFO,
    EVENT,
    FIELDS,
    INFO_GROUPS,
    field,
)
from target_pinterest_conversions.pinterest.limits import InvalidText

NOW = int(time.time())
EVENT_ORDER = (
    "event_name",
    "action_source",
    "event_time",
    "event_id",
    EVENT,
    "custom_data",
    "user_data",
    "app_info",
    "device_info",
)
"""The order of an event's keys, ``EVENT`` standing for the event-level fields (in the
registry's order, then the ``partner_name`` setting when none is mapped). Objects come
last so that an event without them is the same, byte for byte, as before they existed;
inside ``app_info`` and ``device_info``, keys follow the registry."""


def convert(group: str, key: str, value: object) -> Any:
    # Built here rather than taken from INFO_CONVERTERS (built at import), so that the
    # converter under test is the one the rule module gives now (mutation testing).
    return checked_converter(field(group, key))(value)


def reason(group: str, key: str, value: object) -> str:
    with pytest.raises(DroppedValue) as caught:
        convert(group, key, value)
    return caught.value.reason


@pytest.mark.parametrize(
    ("key", "value", "typed"),
    [
        ("window_height", 0, 0),
        ("window_height", 30720, 30720),
        ("window_width", "1920", 1920),
        ("window_width", Decimal("1678"), 1678),
        ("window_width", 1678.0, 1678),
        ("app_id", 429047995, "429047995"),
        ("app_id", " 429047995 ", "429047995"),
        ("app_name", "a" * 200, "a" * 200),
        ("app_store", "Google Play Store", "Google Play Store"),
        ("install_time", 1739222269, 1739222269),
        ("install_time", 1739222269000, 1739222269),  # epoch milliseconds
        ("install_time", "2025-02-10T21:17:49Z", 1739222269),
        ("install_time", dt.datetime(2025, 2, 10, 21, 17, 49), 1739222269),
        ("install_time", 0, 0),
    ],
)
def test_app_info_values_within_the_limits_are_typed(key: str, value: object, typed: Any) -> None:
    out = convert(APP_INFO, key, value)
    assert out == typed
    assert type(out) is type(typed)


@pytest.mark.parametrize(
    ("key", "value", "typed"),
    [
        ("battery_level", 0, 0),
        ("battery_level", 100, 100),
        ("battery_level", "78", 78),
        ("cpu_cores", 1152, 1152),
        ("storage_size", 1048576, 1048576),
        ("screen_density", 100000, 100000),
        ("form_factor", "cellphone", "cellphone"),
        ("form_factor", " Tablet ", "tablet"),  # matched ignoring case, sent as Pinterest spells it
        ("network_type", "CELLULAR_5G", "cellular_5g"),
        ("os_family", "iOS", "ios"),
        ("languages", ["en", "de", "lt"], ["en", "de", "lt"]),
        ("languages", "en", ["en"]),  # one value is a list of one
        ("languages", ["en", None], ["en"]),
        ("languages", ["x"] * 100, ["x"] * 100),
        ("locale", "en-us", "en-us"),
        ("timezone", "America/Argentina/ComodRivadavia", "America/Argentina/ComodRivadavia"),
        ("timezone_abbr", "AEST", "AEST"),
        ("type", "iPhone", "iPhone"),
    ],
)
def test_device_info_values_within_the_limits_are_typed(
    key: str, value: object, typed: Any
) -> None:
    out = convert(DEVICE_INFO, key, value)
    assert out == typed
    assert type(out) is type(typed)


def test_an_empty_list_of_languages_is_no_value() -> None:
    assert convert(DEVICE_INFO, "languages", []) is None
    assert build_info({DEVICE_INFO: {"languages": []}}) == ({}, [])


@pytest.mark.parametrize(
    ("group", "key", "value", "expected"),
    [
        (DEVICE_INFO, "battery_level", 101, "is out of range (Pinterest takes 0 to 100)"),
        (DEVICE_INFO, "battery_level", -1, "is out of range (Pinterest takes 0 to 100)"),
        (DEVICE_INFO, "cpu_cores", 1153, "is out of range (Pinterest takes 0 to 1152)"),
        (APP_INFO, "window_width", 30721, "is out of range (Pinterest takes 0 to 30720)"),
        (
            DEVICE_INFO,
            "storage_free_space",
            1048577,
            "is out of range (Pinterest takes 0 to 1048576)",
        ),
        (DEVICE_INFO, "battery_level", "78.5", "is not a whole number"),
        (DEVICE_INFO, "battery_level", "full", "is not a number"),
        (DEVICE_INFO, "battery_level", True, "is a boolean, not a number"),
        (DEVICE_INFO, "battery_level", 2**70, "is out of range (Pinterest takes a 64-bit integer)"),
        (
            APP_INFO,
            "install_time",
            "1969-12-31T23:59:59Z",
            "is out of range (Pinterest takes 0 or more)",
        ),
        (APP_INFO, "install_time", "yesterday", "is not an ISO-8601 date-time or Unix timestamp"),
        (APP_INFO, "install_time", -5, "is not a valid Unix timestamp"),
        (APP_INFO, "app_name", "a" * 201, "is longer than 200 characters"),
        (APP_INFO, "user_agent", "M" * 16385, "is longer than 16384 characters"),
        (DEVICE_INFO, "timezone_abbr", "ABCDEF", "is longer than 5 characters"),
        (DEVICE_INFO, "locale", "x" * 36, "is longer than 35 characters"),
        (DEVICE_INFO, "timezone", "x" * 41, "is longer than 40 characters"),
        (
            DEVICE_INFO,
            "form_factor",
            "phone",
            "is not one of desktop, laptop, cellphone, tablet, smartwatch, tv, vr, console, other",
        ),
        (
            DEVICE_INFO,
            "os_family",
            "ubuntu",
            "is not one of ios, android, macos, windows, linux, bsd, other",
        ),
        (
            DEVICE_INFO,
            "network_type",
            "5G",
            "is not one of wifi, cellular_2g, cellular_3g, "
            "cellular_4g, cellular_5g, cellular_6g, ethernet, unknown",
        ),
        (DEVICE_INFO, "languages", ["en"] * 101, "has more than 100 items"),
        (DEVICE_INFO, "languages", ["en", {"x": 1}], "is a dict, not text"),
        (DEVICE_INFO, "model", {"name": "Pixel"}, "is a dict, not text"),
        (DEVICE_INFO, "model", "   ", "is empty"),
        (
            DEVICE_INFO,
            "brand",
            InvalidText("Pix\ud800"),
            "is not valid Unicode (it holds a lone surrogate)",
        ),
    ],
)
def test_a_value_beyond_pinterests_limits_is_dropped_with_a_reason_naming_no_value(
    group: str, key: str, value: object, expected: str
) -> None:
    assert reason(group, key, value) == expected


def test_every_limit_of_the_registry_is_checked_at_its_bound() -> None:
    """For each bounded field: the bound itself passes, one beyond it is dropped."""
    for entry in FIELDS:
        if entry.group not in INFO_GROUPS:
            continue
        group, key = entry.group, entry.name
        if entry.max_length is not None:
            assert convert(group, key, "x" * entry.max_length) == "x" * entry.max_length
            reason(group, key, "x" * (entry.max_length + 1))
        if entry.maximum is not None:
            assert convert(group, key, entry.maximum) == entry.maximum
            reason(group, key, entry.maximum + 1)
        if entry.minimum is not None:
            assert convert(group, key, entry.minimum) == entry.minimum
            if entry.kind == "integer":
                reason(group, key, entry.minimum - 1)
        if entry.enum is not None:
            for value in entry.enum:
                assert convert(group, key, value.upper()) == value
            reason(group, key, "none of them")
        if entry.max_items is not None:
            assert convert(group, key, ["a"] * entry.max_items) == ["a"] * entry.max_items
            reason(group, key, ["a"] * (entry.max_items + 1))
        limits = (entry.max_length, entry.maximum, entry.minimum, entry.enum, entry.max_items)
        assert any(limit is not None for limit in limits), f"{group}.{key} has no limit"


def test_build_info_leaves_out_what_it_drops_and_empty_objects() -> None:
    raw = {
        APP_INFO: {"app_name": "x" * 201},
        DEVICE_INFO: {"battery_level": 150, "brand": "Google", "form_factor": "Phablet"},
    }
    objects, dropped = build_info(raw)
    assert objects == {DEVICE_INFO: {"brand": "Google"}}
    assert dropped == [
        ("app_info.app_name", "is longer than 200 characters"),
        ("device_info.battery_level", "is out of range (Pinterest takes 0 to 100)"),
        (
            "device_info.form_factor",
            "is not one of desktop, laptop, cellphone, tablet, smartwatch, tv, vr, console, other",
        ),
    ]


MAPPING: dict[str, Any] = {
    "event_name": "app_install",
    "action_source": "app_android",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
    # Given in another order than Pinterest's: the event still follows the registry.
    "device_info": {
        "os_family": {"const": "Android"},
        "battery_level": "device.battery",
        "model": "device.model",
        "languages": "device.languages",
    },
    "app_info": {"app_version": "app.version", "app_id": "app.id"},
    "app_id": "app.id",
    "device_model": "device.model",
    "wifi": "device.wifi",
    "partner_name": {"const": "ss-acme"},
}


def _record(**device: Any) -> dict[str, Any]:
    return {
        "id": "e-1",
        "ts": NOW - 60,
        "email": "a@example.com",
        "app": {"id": "com.acme.app", "version": "7.9"},
        "device": {
            "battery": 78,
            "model": "Pixel 9",
            "languages": ["en", "de"],
            "wifi": True,
            **device,
        },
    }


def _both_routes(record: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
    mapping = parse_stream_mapping("s", MAPPING)
    fast = compile_fast_path(mapping, partner_name="ss-setting")
    assert fast is not None
    key = record_key(record, ["id"], mapping.hashed_paths)
    (conversion,) = convert_record(
        record, mapping, key_properties=["id"], now=NOW, partner_name="ss-setting"
    )
    return fast(record, key, NOW), conversion


def test_a_mapped_record_gives_both_objects_after_the_flat_fields_in_a_fixed_order() -> None:
    event, conversion = _both_routes(_record())
    assert event is not None
    assert json.dumps(event) == json.dumps(conversion.event)
    assert conversion.dropped == []
    assert list(event) == [
        "event_name",
        "action_source",
        "event_time",
        "event_id",
        "partner_name",
        "app_id",
        "device_model",
        "wifi",
        "user_data",
        "app_info",
        "device_info",
    ]
    assert event["app_id"] == event["app_info"]["app_id"] == "com.acme.app"
    assert event["device_model"] == event["device_info"]["model"] == "Pixel 9"
    assert list(event["app_info"]) == ["app_id", "app_version"]
    assert event["device_info"] == {
        "battery_level": 78,
        "languages": ["en", "de"],
        "model": "Pixel 9",
        "os_family": "android",
    }
    ranks = [EVENT_ORDER.index(k if k in EVENT_ORDER else EVENT) for k in event]
    assert ranks == sorted(ranks)


def test_a_value_beyond_a_limit_is_left_out_and_counted_and_the_event_still_goes() -> None:
    event, conversion = _both_routes(_record(battery=101))
    assert event is None  # the fast path steps aside: the full pipeline counts the value
    assert conversion.event is not None
    assert conversion.dropped == [
        ("device_info.battery_level", "is out of range (Pinterest takes 0 to 100)")
    ]
    assert "battery_level" not in conversion.event["device_info"]
    assert conversion.event["device_info"]["model"] == "Pixel 9"


def test_an_object_left_empty_is_not_sent() -> None:
    record = _record(battery="full", model=None, languages=[])
    record["app"] = {}
    event, conversion = _both_routes(record)
    assert event is None
    assert conversion.event is not None
    assert "app_info" not in conversion.event
    assert conversion.event["device_info"] == {"os_family": "android"}
    assert conversion.dropped == [("device_info.battery_level", "is not a number")]


def test_the_flat_fields_keep_their_rule_a_value_of_the_wrong_type_rejects_the_record() -> None:
    record = _record()
    record["app"]["id"] = {"store": "play"}
    _, conversion = _both_routes(record)
    assert conversion.event is None
    assert conversion.reasons == ["app_id is a dict, not text"]


def test_a_mapping_without_the_objects_gives_the_event_it_gave_before() -> None:
    spec = {k: v for k, v in MAPPING.items() if k not in INFO_GROUPS}
    mapping = parse_stream_mapping("s", spec)
    assert mapping.info == {}
    (conversion,) = convert_record(_record(), mapping, key_properties=["id"], now=NOW)
    assert conversion.event is not None
    assert not set(INFO_GROUPS) & set(conversion.event)


def test_the_parser_names_an_unknown_key_and_keeps_the_registry_order() -> None:
    with pytest.raises(MappingConfigError, match=r"streams\.s\.device_info\.os: unknown key"):
        parse_stream_mapping("s", {**MAPPING, "device_info": {"os": "x"}})
    with pytest.raises(MappingConfigError, match=r"streams\.s\.app_info: expected an object"):
        parse_stream_mapping("s", {**MAPPING, "app_info": "app"})
    mapping = parse_stream_mapping("s", MAPPING)
    assert list(mapping.info) == [APP_INFO, DEVICE_INFO]
    assert list(mapping.info[DEVICE_INFO]) == ["battery_level", "languages", "model", "os_family"]
    settings = [setting for setting, _ in mapping.record_paths()]
    assert "streams.s.device_info.battery_level" in settings
    assert field(DEVICE_INFO, "battery_level").maximum == 100


def test_a_path_the_stream_schema_lacks_is_named_with_its_setting() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "ts": {"type": "integer"},
            "email": {"type": "string"},
            "app": {"type": "object", "properties": {"id": {"type": "string"}}},
            "device": {"type": "object", "properties": {"model": {"type": "string"}}},
        },
    }
    mapping = parse_stream_mapping("s", MAPPING)
    with pytest.raises(MappingSchemaError) as caught:
        bind_mapping(mapping, schema)
    message = str(caught.value)
    assert (
        "streams.s.device_info.battery_level: stream 's' has no field 'device.battery'" in message
    )
    assert "streams.s.app_info.app_version" in message
