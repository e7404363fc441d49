"""Where an order's instructions go: the steps from a RECORD line to its request body.

``instructions.py`` counts whole runs. This counts, in one process and without the SDK's
loop or the delivery threads, the steps a tap-shopify order takes to become an event:
reading its line, converting the record, counting its match signals and encoding the event
as a request body does. Each step is counted in runs of its own that stop after it, on 1 and
on N orders, under valgrind's callgrind; a step's cost per order is what it adds to the step
before it, between the two runs, over N - 1 (the first order, which sets up tables on first
use, is left out). What ``instructions.py``'s total has beyond these steps is the SDK's loop
and the delivery.

With ``--bytecodes`` (no valgrind), the conversion's Python bytecodes per order, by function,
counted with a tracer: what the generated fast path and each helper it calls execute.

    python benchmarks/steps.py                     # 2,000 orders; needs valgrind
    python benchmarks/steps.py --bytecodes --orders 500
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from instructions import instructions
from run import HERE, PY

STEPS = ("load", "read", "convert", "signals", "encode")
"""Each run does the steps up to its own; ``load`` reads the input and builds the plan."""


def _prepare(path: Path, count: int) -> tuple[Any, Any, list[bytes]]:
    """The stream's plan, a reader decoding its records in part, and ``count`` RECORD lines."""
    from target_pinterest_conversions.conversion.plan import StreamPlan
    from target_pinterest_conversions.mapping.binding import bind_mapping
    from target_pinterest_conversions.mapping.parse import parse_stream_mapping
    from target_pinterest_conversions.reader import SafeMessageReader

    lines = path.read_bytes().splitlines()
    schema = json.loads(lines[0])["schema"]
    mapping, _ = bind_mapping(
        parse_stream_mapping("orders", {"preset": "tap-shopify/orders"}), schema
    )
    plan = StreamPlan(mapping, schema, ["id"])
    reader = SafeMessageReader()
    reader.read_partially("orders", plan.partial_type)
    records = [line for line in lines if line.startswith(b'{"type": "RECORD"')][:count]
    return plan, reader, records


def harness(step: str, path: Path, count: int) -> None:
    """Run the steps up to ``step`` on the first ``count`` orders of ``path``."""
    import orjson

    from target_pinterest_conversions.context.summary import StreamStats
    from target_pinterest_conversions.pinterest.signals import counted_name, signal_mask

    plan, reader, records = _prepare(path, count)
    stats, now, last = StreamStats(), int(time.time()), STEPS.index(step)
    if last == 0:
        return
    for line in records:
        message = reader.deserialize_json(line)
        whole = getattr(message, "whole_record", None)
        if whole is None:
            sys.exit("an order was decoded whole: the step counts would mix routes")
        if last == 1:
            continue
        event = plan.convert_partial(message["record"], now, whole).event
        if event is None:
            sys.exit("an order left the fast path: the step counts would mix routes")
        if last == 2:
            continue
        stats.count_signals(counted_name(event), signal_mask(event))
        if last == 4:
            orjson.dumps(event)


def bytecodes(path: Path, count: int) -> None:
    """Print the conversion's bytecodes and calls per order, by function."""
    plan, reader, records = _prepare(path, count)
    messages = [reader.deserialize_json(line) for line in records]
    now = int(time.time())
    warm = len(messages) // 4  # memos and tables filled as a long run has them
    for message in messages[:warm]:
        plan.convert_partial(message["record"], now, message.whole_record)
    ops: Counter[str] = Counter()
    calls: Counter[str] = Counter()

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        frame.f_trace_opcodes = True
        code = frame.f_code
        name = f"{Path(code.co_filename).name}:{code.co_name}"
        if event == "call":
            calls[name] += 1
        elif event == "opcode":
            ops[name] += 1
        return trace

    sys.settrace(trace)
    for message in messages[warm:]:
        plan.convert_partial(message["record"], now, message.whole_record)
    sys.settrace(None)
    n = len(messages) - warm
    print(f"conversion bytecodes per order, {n} tap-shopify orders after {warm} to warm up:")
    print(f"{sum(ops.values()) / n:,.0f} bytecodes, {sum(calls.values()) / n:.1f} calls")
    print(f"{'bytecodes':>10}{'calls':>8}  function (<string>: generated)")
    for name, executed in ops.most_common(30):
        print(f"{executed / n:>10,.1f}{calls[name] / n:>8.2f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000, help="N, at least 2")
    parser.add_argument("--bytecodes", action="store_true", help="count bytecodes instead")
    parser.add_argument("--harness", nargs=3, metavar=("STEP", "INPUT", "COUNT"), help="internal")
    args = parser.parse_args()
    if args.harness:
        step, stdin, count = args.harness
        harness(step, Path(stdin), int(count))
        return
    if args.orders < 2:
        parser.error("--orders must be at least 2")
    if not args.bytecodes and shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (--bytecodes needs none)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.singer"
        with path.open("w") as handle:
            subprocess.run(
                [PY, str(HERE / "generate.py"), str(args.orders)], stdout=handle, check=True
            )
        if args.bytecodes:
            bytecodes(path, args.orders)
            return
        empty = Path(tmp) / "empty"
        empty.write_bytes(b"")
        counts = {
            (step, n): instructions(
                empty, [PY, str(Path(__file__).resolve()), "--harness", step, str(path), str(n)]
            )
            for step in STEPS
            for n in (1, args.orders)
        }
    per_order = {
        step: (counts[step, args.orders] - counts[step, 1]) / (args.orders - 1) for step in STEPS
    }
    print(f"instructions per order by step (valgrind callgrind), {args.orders} tap-shopify orders:")
    for before, step in itertools.pairwise(STEPS):
        print(f"{step:<10}{per_order[step] - per_order[before]:>12,.0f}")
    print(f"{'together':<10}{per_order[STEPS[-1]] - per_order[STEPS[0]]:>12,.0f}")


if __name__ == "__main__":
    main()
