"""The SDK's standard target tests, run against this target in dry-run mode.

Four of the standard streams are mapped below so that their records go all the way to
request bodies (duplicates, schema updates, arrays as content ids, optional fields that
that are not emails and are left out, counted); the other streams have no mapping and are
ignored with one warning each, as `unmapped_streams: ignore` documents. No test of
the standard suite is skipped: invalid input must raise, and does.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_pinterest_conversions.target import TargetPinterestConversions

_OUT = Path(tempfile.mkdtemp(prefix="tpc-sdk-tests-"))
_RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat()
_IP_UA = {
    "client_ip_address": {"const": "203.0.113.1"},
    "client_user_agent": {"const": "sdk-tests"},
}

SAMPLE_CONFIG = {
    "ad_account_id": "549755885175",
    "dry_run": True,
    "dry_run_path": str(_OUT / "dry-run.jsonl"),
    "dead_letter_path": str(_OUT / "dead-letter.jsonl"),
    # The suite's other streams are unmapped on purpose: skip them, counted and warned.
    "unmapped_streams": "ignore",
    "streams": {
        name: {
            "event_name": "lead",
            "action_source": "offline",
            # The standard streams carry no times; a recent constant keeps them sendable.
            "event_time": {"const": _RECENT},
            "user_data": user_data,
            "custom_data": custom_data,
        }
        for name, user_data, custom_data in (
            ("test_duplicate_records", _IP_UA, {"value": "metric"}),
            ("test_schema_updates", _IP_UA, {"content_name": "a2"}),
            ("test_array_data", _IP_UA, {"content_ids": "fruits"}),
            # "optional" holds text, not emails: each value is left out and counted.
            ("test_optional_attributes", {**_IP_UA, "em": "optional"}, {}),
        )
    },
}

StandardTargetTests = get_target_test_class(TargetPinterestConversions, config=SAMPLE_CONFIG)


class TestTargetPinterestConversions(StandardTargetTests):  # type: ignore[valid-type,misc]
    """Standard Target Tests."""
