"""tap-shopify 3.13 ``orders``: its real SCHEMA and generated records of that shape.

The schema is read from ../shared/fixtures when present, otherwise from the tap's
sdist on PyPI (``tap_shopify/schemas/orders.json``), cached under ``.cache/``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.pinterest_schema import SHARED

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = SHARED / "fixtures" / "tap-shopify-3.13-orders.schema.json"
CACHE = ROOT / ".cache" / "tap-shopify-3.13-orders.schema.json"

EXAMPLE_MAPPING: dict[str, Any] = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "createdAt",
    "event_id": "id",
    "user_data": {
        "em": "email",
        "ph": "phone",
        "fn": "billingAddress.firstName",
        "ln": "billingAddress.lastName",
        "ct": "billingAddress.city",
        "st": "billingAddress.provinceCode",
        "zp": "billingAddress.zip",
        "country": "billingAddress.countryCodeV2",
        "external_id": "customer.id",
        "client_ip_address": "clientIp",
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
}


def orders_schema() -> dict[str, Any] | None:
    """Return tap-shopify 3.13's orders schema, or None if it cannot be had."""
    for path in (FIXTURE, CACHE):
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
    tmp: Path | None = None
    try:
        # A folder of this process's own, and the cache written whole by a rename: parallel
        # workers (pytest-xdist) may download at once, and none may read a half-written file.
        (ROOT / ".cache").mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="sdist-", dir=ROOT / ".cache"))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-q",
                "-d",
                str(tmp),
                "tap-shopify==3.13.0",
            ],
            check=True,
            timeout=120,
            capture_output=True,
        )
        archive = next(tmp.glob("tap*shopify-3.13.0.tar.gz"))
        with tarfile.open(archive) as tar:
            member = next(
                m for m in tar.getmembers() if m.name.endswith("tap_shopify/schemas/orders.json")
            )
            part = tmp / CACHE.name
            part.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
        part.replace(CACHE)
        return json.loads(CACHE.read_text(encoding="utf-8"))
    except Exception:
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


PEOPLE = [
    (
        "Jane",
        "Doe",
        "Jane.Doe{n}@Example.com",
        "+1 (415) 555-{p:04d}",
        "San Francisco",
        "CA",
        "94107-1234",
        "US",
    ),
    (
        "Jürgen",
        "Müller",
        "juergen{n}@example.de",
        "+49 30 9018{p:04d}",
        "Berlin",
        "BE",
        "10117",
        "DE",
    ),
    (
        "Tom",
        "O'Brien",
        " tom.obrien{n}@example.co.uk ",
        "+44 20 7946 {p:04d}",
        "London",
        "EN",
        "SW1A 2AA",
        "GB",
    ),
]


def make_order(n: int, created: dt.datetime) -> dict[str, Any]:
    """One order shaped like tap-shopify 3.13's (GraphQL field names, money as numbers)."""
    fn, ln, em, ph, city, st, zp, country = PEOPLE[n % len(PEOPLE)]
    items = []
    for j in range(1 + n % 3):
        items.append(
            {
                "id": f"gid://shopify/LineItem/{n * 10 + j}",
                "title": f"Product {j}",
                "quantity": 1 + j,
                "sku": f"SKU-{j}",
                "product": {"id": f"gid://shopify/Product/{100 + j}"},
                "variant": {"id": f"gid://shopify/ProductVariant/{200 + j}"},
                "originalUnitPriceSet": {
                    "shopMoney": {"amount": Decimal("12.30") + j, "currencyCode": "USD"},
                    "presentmentMoney": {"amount": Decimal("12.30") + j, "currencyCode": "USD"},
                },
            },
        )
    total = sum(i["originalUnitPriceSet"]["shopMoney"]["amount"] * i["quantity"] for i in items)
    phone = ph.format(p=n % 10000)
    return {
        "id": f"gid://shopify/Order/{1_000_000 + n}",
        "name": f"#{1000 + n}",
        "email": em.format(n=n),
        "phone": phone,
        "createdAt": created.isoformat().replace("+00:00", "Z"),
        "updatedAt": created.isoformat().replace("+00:00", "Z"),
        "currencyCode": "USD",
        "clientIp": f"203.0.113.{n % 250}",
        "subtotalLineItemsQuantity": sum(i["quantity"] for i in items),
        "totalPriceSet": {
            "shopMoney": {"amount": total, "currencyCode": "USD"},
            "presentmentMoney": {"amount": total, "currencyCode": "USD"},
        },
        "billingAddress": {
            "firstName": fn,
            "lastName": ln,
            "city": city,
            "provinceCode": st,
            "zip": zp,
            "countryCodeV2": country,
            "phone": phone,
            "province": None,
            "country": None,
        },
        "customer": {"id": f"gid://shopify/Customer/{n % 97}", "email": em.format(n=n)},
        "lineItems": items,
    }


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value))


def singer_lines(
    n: int,
    schema: dict[str, Any],
    *,
    state_every: int = 100,
    stream: str = "orders",
    now: dt.datetime | None = None,
) -> list[str]:
    """SCHEMA, then ``n`` orders created over the last hours, a STATE every ``state_every``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    lines = [
        json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]})
    ]
    for i in range(n):
        created = now - dt.timedelta(hours=2) + dt.timedelta(seconds=i * 3600 / max(n, 1))
        order = make_order(i, created.replace(microsecond=0))
        lines.append(
            json.dumps({"type": "RECORD", "stream": stream, "record": order}, default=_default)
        )
        if (i + 1) % state_every == 0 or i == n - 1:
            lines.append(
                json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"n": i + 1}}}})
            )
    return lines
