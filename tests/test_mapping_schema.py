"""The published JSON Schema of a stream mapping (``--about``, Meltano) is the parser's.

Every mapping the parser accepts validates against it, it names exactly the keys and
fields the parser takes (from the field registry), and mappings the parser refuses for
their shape are refused by it too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from target_pinterest_conversions.mapping.keys import STREAM_MAPPING_KEYS, stream_mapping_schema
from target_pinterest_conversions.mapping.parse import parse_stream_mapping
from target_pinterest_conversions.mapping.presets import CONTENT_ID_PATHS, PRESETS
from target_pinterest_conversions.mapping.spec import MappingConfigError
from target_pinterest_conversions.pinterest.fields import FIELDS, INFO_GROUPS, names
from target_pinterest_conversions.settings import CONFIG_SCHEMA
from target_pinterest_conversions.target import TargetPinterestConversions
from tests.test_fast_path_equivalence import CUSTOM_MAPPINGS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = stream_mapping_schema()
VALIDATOR = Draft7Validator(SCHEMA)


def _accepted() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [(f"preset {name}", {"preset": name}) for name in PRESETS]
    out += [
        (f"preset {name}, content_id {mode}", {"preset": name, "content_id": mode})
        for name, modes in CONTENT_ID_PATHS.items()
        for mode in modes
    ]
    out += [(f"mapping {name}", spec) for name, spec in CUSTOM_MAPPINGS.items()]
    sample = json.loads((ROOT / "sample" / "config.dry-run.json").read_text())
    out += [(f"sample {name}", spec) for name, spec in sample["streams"].items()]
    out += [
        (
            "names from a field",
            {
                "event_name_from": "event",
                "event_name_map": ["segment", {"Order Paid": "checkout"}],
                "event_name_fallback": "skip",
                "action_source_from": "channel",
                "action_source_map": {"pos": "offline"},
                "action_source": "web",
                "event_time": {"const": "2026-11-28T00:00:00Z"},
                "event_per_item": "items",
                "event_id": "$item.id",
                "user_data": {"em": ["email", "customer.email"]},
            },
        ),
    ]
    out += [
        (f"ad_account_id {name}", {"preset": "tap-shopify/orders", "ad_account_id": value})
        for name, value in (
            ("digits", "549755885175"),
            ("integer", 549755885175),
            ("const", {"const": "549755885175"}),
            ("path", "brand.ad_account"),
            ("paths", ["brand.ad_account", "account"]),
        )
    ]
    return out


@pytest.mark.parametrize(("name", "spec"), _accepted(), ids=[n for n, _ in _accepted()])
def test_every_mapping_the_parser_accepts_is_valid_for_the_schema(name: str, spec: Any) -> None:
    parse_stream_mapping("s", spec)
    assert not list(VALIDATOR.iter_errors(spec)), name


def test_the_schema_names_exactly_the_parsers_keys_and_the_registry_fields() -> None:
    properties = SCHEMA["properties"]
    assert tuple(properties) == STREAM_MAPPING_KEYS
    for group in ("user_data", "custom_data", *INFO_GROUPS):
        assert tuple(properties[group]["properties"]) == names(group)
    assert tuple(properties["contents"]["properties"]) == ("from", *names("contents"))
    for f in FIELDS:
        node = properties[f.name] if f.group == "event" else properties[f.group]["properties"]
        described = node if f.group == "event" else node[f.name]
        assert described["description"] == f.description


REFUSED = {
    "unknown key": {"preset": "tap-shopify/orders", "event_nmae": "lead"},
    "unknown user_data key": {"preset": "tap-shopify/orders", "user_data": {"emial": "e"}},
    "unknown device_info key": {"preset": "tap-shopify/orders", "device_info": {"os": "os"}},
    "app_info not an object": {"preset": "tap-shopify/orders", "app_info": "app"},
    "device_info source of the wrong type": {
        "preset": "tap-shopify/orders",
        "device_info": {"battery_level": 5},
    },
    "bad action source": {"event_name": "lead", "action_source": "shop", "event_time": "t"},
    "path of the wrong type": {"preset": "tap-shopify/orders", "event_time": 5},
    "unknown preset": {"preset": "tap-shopify/refunds"},
    "bad content_id": {"preset": "tap-shopify/orders", "content_id": "barcode"},
    "url_param without from": {"preset": "tap-shopify/orders", "event_id": {"url_param": "x"}},
    "skip_when with an unknown test": {
        "preset": "tap-shopify/orders",
        "skip_when": {"path": "test", "is": "there"},
    },
    "ad_account_id a boolean": {"preset": "tap-shopify/orders", "ad_account_id": True},
    "ad_account_id an object": {"preset": "tap-shopify/orders", "ad_account_id": {"id": "1"}},
    "ad_account_id a negative number": {"preset": "tap-shopify/orders", "ad_account_id": -1},
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_mappings_the_parser_refuses_for_their_shape_the_schema_refuses(case: str) -> None:
    spec = REFUSED[case]
    with pytest.raises(MappingConfigError):
        parse_stream_mapping("s", spec)
    assert list(VALIDATOR.iter_errors(spec))


def test_about_publishes_the_mapping_schema_but_config_errors_come_from_the_parser() -> None:
    assert CONFIG_SCHEMA["properties"]["streams"]["additionalProperties"] == SCHEMA
    config = {
        "ad_account_id": "1",
        "dry_run": True,
        "streams": {"orders": {"preset": "tap-shopify/orders", "user_data": {"emial": "e"}}},
    }
    # The schema check leaves the mapping to the parser, whose message names the key.
    assert TargetPinterestConversions.config_errors(config) == []
