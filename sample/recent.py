"""Print a Singer file with its orders' times moved into the last hour.

Pinterest only takes events from the last 7 days, so the bundled sample orders are
shifted, keeping their spacing, to end five minutes ago. Usage (the second for tap-jsonl):
    python sample/recent.py sample/orders.singer | target-pinterest-conversions ...
    mkdir -p output && python sample/recent.py sample/orders.singer --jsonl > output/orders.jsonl
"""

from __future__ import annotations

import datetime as dt
import json
import sys

FIELDS = ("createdAt", "updatedAt", "processedAt")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(path: str, *, jsonl: bool = False) -> None:
    """Shift every RECORD's and STATE's times so that the newest is five minutes ago.

    With ``jsonl``, print only the records, one JSON object a line (tap-jsonl's input).
    """
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    times = [
        _parse(value)
        for line in lines
        if '"RECORD"' in line
        for name, value in json.loads(line)["record"].items()
        if name in FIELDS and value
    ]
    shift = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5) - max(times)

    def move(value: str) -> str:
        return (_parse(value) + shift).isoformat().replace("+00:00", "Z")

    for line in lines:
        message = json.loads(line)
        if message["type"] == "RECORD":
            record = message["record"]
            for name in FIELDS:
                if record.get(name):
                    record[name] = move(record[name])
            line = json.dumps(record if jsonl else message)
        elif jsonl:
            continue
        elif message["type"] == "STATE":
            for bookmark in message["value"].get("bookmarks", {}).values():
                for name in FIELDS:
                    if bookmark.get(name):
                        bookmark[name] = move(bookmark[name])
            line = json.dumps(message)
        sys.stdout.write(line + "\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--jsonl"]
    main(args[0] if args else "sample/orders.singer", jsonl="--jsonl" in sys.argv)
