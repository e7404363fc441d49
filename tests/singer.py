"""Small Singer inputs for the command-line tests: a stream of orders with an email and a time."""

from __future__ import annotations

import datetime as dt
import json

RECENT = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)).isoformat()
"""An event time Pinterest takes (within its 7 days)."""

ORDERS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": ["null", "string"]},
        "ts": {"type": ["null", "string"]},
        "kind": {"type": ["null", "string"]},
    },
}
CHECKOUT = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "ts",
    "event_id": "id",
    "user_data": {"em": "email"},
}
"""A mapping of ORDERS_SCHEMA's records to checkout events."""


def schema_line(stream: str = "orders") -> str:
    """The SCHEMA message of ``stream``, keyed by ``id``."""
    return json.dumps(
        {"type": "SCHEMA", "stream": stream, "schema": ORDERS_SCHEMA, "key_properties": ["id"]}
    )


def record_line(stream: str, i: int, **fields: object) -> str:
    """A RECORD of order ``i`` (a buyer's email, a recent time), with ``fields`` changed."""
    record = {"id": i, "email": f"buyer{i}@example.com", "ts": RECENT, **fields}
    return json.dumps({"type": "RECORD", "stream": stream, "record": record})


def state_line(value: object) -> str:
    """A STATE message holding ``value``."""
    return json.dumps({"type": "STATE", "value": value})
