"""Print N tap-shopify-shaped orders as Singer messages, with tap-shopify 3.13's real
``orders`` SCHEMA. Usage: ``python benchmarks/generate.py N > orders.singer``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.shopify import make_order, orders_schema


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value))


def main(count: int, state_every: int = 1000) -> None:
    schema = orders_schema()
    if schema is None:
        sys.exit("tap-shopify's orders schema is not available (../shared or PyPI)")
    out = sys.stdout
    out.write(
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]}
        )
        + "\n"
    )
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=6)
    step = dt.timedelta(days=6) / max(count, 1)
    for i in range(count):
        order = make_order(i, (start + step * i).replace(microsecond=0))
        out.write(
            json.dumps({"type": "RECORD", "stream": "orders", "record": order}, default=_default)
            + "\n"
        )
        if (i + 1) % state_every == 0 or i == count - 1:
            out.write(
                json.dumps({"type": "STATE", "value": {"bookmarks": {"orders": {"n": i + 1}}}})
                + "\n"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]))
