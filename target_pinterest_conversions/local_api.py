"""A local Pinterest API for Conversions, for a first live run without an account.

``target-pinterest-conversions-local-api`` (or ``python -m
target_pinterest_conversions.local_api``) serves, on 127.0.0.1 by default:

- ``POST /v5/ad_accounts/{ad_account_id}/events``, answered as Pinterest answers (the
  reference's request and response shapes and error bodies): 401 ``{"code": 2, "message":
  "Authentication failed.", ...}`` for a missing or wrong bearer token; 400 ``{"code":
  4196, "message": "Invalid request: ..."}`` for a body that is not JSON or whose ``data``
  is not a list of 1 to 1000 events; else per-event results: a 200 ``{"num_events_received",
  "num_events_processed", "events": [...]}`` when every event is processed, and when some
  are not, Pinterest's 422 ``{"code": 953, "message": ..., "details": {...}}`` whose
  ``details`` has the same shape (the spec's 422 is "Not all events were successfully
  processed"). Each failed event's ``error_message`` names the fields at fault.
- ``GET /v5/ad_accounts/{ad_account_id}/advertiser_defined_events``: the spec's example
  (one event, ``download_picture``), whose name is then accepted as an ``event_name``.
- ``GET /v5/ad_accounts/{ad_account_id}/conversion_eqs?lookback_period=1d|14d``: the
  coverage of each of the Event Quality Score's ``quality_components``, per event name, in
  the events this server processed; ``overall_status`` is a local rule of thumb (Pinterest's
  formula is not published).

An event is checked with the package's own rules, never a second copy of them: the field
registry (``pinterest/fields.py``: which fields each object may hold, their JSON types and
limits, each value typed by its kind's converter as the target types it), the event rules
of ``conversion/checks.py`` (required fields, action source, a match key, ``event_time``
within 7 days and not in the future), SHA-256 digests as 64 lowercase hex characters, and
event names among Pinterest's (``pinterest/vocabulary.py``) or the ad account's
advertiser-defined ones (the spec: "Please use the right event_name; otherwise the event
will not be accepted"). A key the registry does not list is refused, as Pinterest's schema
(``additionalProperties: false``) refuses unknown keys; that includes three ``custom_data``
keys of Pinterest's own that the target never sends (``np``, ``external_measurement_id``,
``external_measurement_vendor_id``). A null is taken as no value for text fields (the
schema makes most of them nullable). The tests additionally check every body the target
sends against Pinterest's published request schema (``tests/fake_pinterest.py``, and
``tests/test_local_api.py`` for the bodies this server receives).

Requests sent with ``test=true`` are checked and answered alike, and, as Pinterest records
nothing of them, not written to ``--requests-file``. A line on stderr tells each request.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from target_pinterest_conversions.conversion.checks import KNOWN_EVENT_NAMES, validate_event
from target_pinterest_conversions.conversion.event import CONVERTERS_BY_KIND
from target_pinterest_conversions.conversion.info import checked_converter
from target_pinterest_conversions.conversion.text import DroppedValue, is_sha256_hex
from target_pinterest_conversions.conversion.types import EventError, to_currency, to_str
from target_pinterest_conversions.delivery.client import MAX_EVENTS_PER_REQUEST
from target_pinterest_conversions.pinterest.fields import (
    APP_INFO,
    CONTENTS,
    CUSTOM_DATA,
    DEVICE_INFO,
    EVENT,
    FIELDS,
    USER_DATA,
    Field,
)
from target_pinterest_conversions.pinterest.limits import ad_account_id
from target_pinterest_conversions.pinterest.signals import SIGNALS, signal_mask

DEMO_TOKEN = "local-api-demo-token"  # noqa: S105 - the documented token of a local server
"""The access token the server accepts unless ``--token`` says otherwise."""

MAX_BODY_BYTES = 64 * 1024 * 1024
"""A longer body is refused with a 413 before it is read."""

ADVERTISER_DEFINED_EVENTS: tuple[dict[str, str], ...] = (
    {"name": "download_picture", "mapped_conversion_type": "PAGE_LOAD"},
)
"""The answer of ``GET .../advertiser_defined_events``: the spec's example values."""

_PATH = re.compile(r"^/v5/ad_accounts/([^/]*)/(events|advertiser_defined_events|conversion_eqs)$")

# Pinterest's error bodies (the spec's examples and the reference's real answers).
_UNAUTHORIZED = {"code": 2, "message": "Authentication failed.", "status": "failure"}
_INVALID = 4196
_NOT_ALL_PROCESSED = {
    "code": 953,
    "message": (
        "The action could not be processed properly due to some or all data provided being invalid."
    ),
}

# ---------------------------------------------------------------------------------------
# An event's checks: the registry's fields and kinds, and conversion/checks.py's rules.

_JSON_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int to Python, never to JSON
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)

_REQUIRED_TYPES: Mapping[str, str] = {
    "event_name": "string",
    "action_source": "string",
    "event_time": "integer",
    "event_id": "string",
    "user_data": "object",
}
"""The JSON types of the required fields of ``conversion/checks.py`` (Pinterest's schema's;
the registry lists the fields a mapping may set, not these)."""

_OBJECTS: Mapping[str, str] = {
    USER_DATA: USER_DATA,
    CUSTOM_DATA: CUSTOM_DATA,
    APP_INFO: APP_INFO,
    DEVICE_INFO: DEVICE_INFO,
}
"""The event's objects: key to the registry group of their fields."""


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    for kind, name in _JSON_TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _type_reason(value: object, want: str) -> str | None:
    got = _json_type(value)
    return None if got == want else f"is {_a(got)}, not {_a(want)}"


def _is_digest(text: object) -> bool:
    """A SHA-256 hex digest as Pinterest's examples write it: 64 lowercase hex characters."""
    return isinstance(text, str) and is_sha256_hex(text) and text == text.lower()


def _value_check(entry: Field) -> Callable[[object], str | None]:
    """Return the check of one value of ``entry``: the reason it fails, or None.

    The reason does not name the field (the caller does). The value is typed by the
    converter of its registry kind and held to the registry's limits, and must already be
    of the JSON type Pinterest's schema gives.
    """
    name = f"{entry.group}.{entry.name}"
    want = entry.pinterest_type
    typed: Callable[[object], object]
    if entry.kind == "hashed":

        def typed(value: object) -> object:
            if not all(_is_digest(item) for item in value):  # type: ignore[attr-defined]
                raise DroppedValue("holds a value that is not a SHA-256 digest in lowercase hex")
            return value

    elif entry.kind in CONVERTERS_BY_KIND:
        typed = checked_converter(entry)
    else:
        convert = to_currency if entry.kind == "currency" else to_str

        def typed(value: object) -> object:
            try:
                return convert(value, name)
            except EventError as exc:
                raise DroppedValue(exc.reason.removeprefix(f"{name} ")) from None

    def check(value: object) -> str | None:
        if value is None and want == "string":
            return None
        reason = _type_reason(value, want)
        if reason:
            return reason
        if want == "array" and not all(isinstance(item, str) for item in value):  # type: ignore[attr-defined]
            return "holds a value that is not a string"
        try:
            out = typed(value)
        except DroppedValue as exc:
            return exc.reason
        if entry.enum is not None and out != value:
            return f"is not one of {', '.join(entry.enum)}"
        return None

    return check


_CHECKS: Mapping[str, Mapping[str, Callable[[object], str | None]]] = {
    group: {f.name: _value_check(f) for f in FIELDS if f.group == group}
    for group in (EVENT, USER_DATA, CUSTOM_DATA, CONTENTS, APP_INFO, DEVICE_INFO)
}
"""Group to field name to the check of one value (see :func:`_value_check`)."""


def _object_problems(
    values: Mapping[str, Any],
    group: str,
    prefix: str,
    skip: Sequence[str] = (),
) -> list[str]:
    checks = _CHECKS[group]
    problems = []
    for key, value in values.items():
        if key in skip:
            continue
        check = checks.get(key)
        if check is None:
            problems.append(f"{prefix}{key} is not a field Pinterest takes")
            continue
        reason = check(value)
        if reason:
            problems.append(f"{prefix}{key} {reason}")
    return problems


def _custom_data_problems(custom_data: Mapping[str, Any]) -> list[str]:
    problems = _object_problems(custom_data, CUSTOM_DATA, "custom_data.", skip=(CONTENTS,))
    items = custom_data.get(CONTENTS)
    if items is None:
        return problems
    if not isinstance(items, list):
        return [*problems, f"custom_data.contents {_type_reason(items, 'array')}"]
    for index, item in enumerate(items):
        where = f"custom_data.contents[{index}]"
        if isinstance(item, dict):
            problems += _object_problems(item, CONTENTS, f"{where}.")
        else:
            problems.append(f"{where} {_type_reason(item, 'object')}")
    return problems


def event_problems(
    event: object,
    now: int,
    event_names: frozenset[str] = KNOWN_EVENT_NAMES,
) -> list[str]:
    """Return the reasons Pinterest would fail ``event`` (as received); none means processed.

    Args:
        event: one item of a request's ``data``.
        now: the current Unix time in seconds.
        event_names: the event names taken: Pinterest's and the advertiser-defined ones.

    """
    if not isinstance(event, dict):
        return [f"the event {_type_reason(event, 'object')}"]
    problems = []
    for name, want in _REQUIRED_TYPES.items():
        if event.get(name) is not None:
            reason = _type_reason(event[name], want)
            if reason:
                problems.append(f"{name} {reason}")
    typed = not problems  # the rules below read the required fields as their types
    for key, value in event.items():
        if key in _REQUIRED_TYPES:
            continue
        group = _OBJECTS.get(key)
        if group is None:
            problems += _object_problems({key: value}, EVENT, "")
        elif not isinstance(value, dict):
            problems.append(f"{key} {_type_reason(value, 'object')}")
        elif group == CUSTOM_DATA:
            problems += _custom_data_problems(value)
        else:
            problems += _object_problems(value, group, f"{key}.")
    user_data = event.get(USER_DATA)
    if isinstance(user_data, dict):
        problems += _object_problems(user_data, USER_DATA, "user_data.")
    if typed:
        problems += validate_event(event, now)
        event_name = event.get("event_name")
        if event_name and event_name not in event_names:
            problems.append(
                "event_name is not one of Pinterest's event names nor an advertiser-defined "
                "event of the ad account",
            )
    return problems


def _results(events: Sequence[object], now: int, names: frozenset[str]) -> list[dict[str, Any]]:
    results = []
    for event in events:
        problems = event_problems(event, now, names)
        results.append(
            {
                "status": "failed" if problems else "processed",
                "error_message": "; ".join(problems),
                "warning_message": "",
            },
        )
    return results


# ---------------------------------------------------------------------------------------
# Event Quality Score, from the events processed here.

_EQS_COMPONENTS: tuple[str, ...] = tuple(s for s in SIGNALS if s != "hashed_phone")
"""Pinterest's ``quality_components`` (the phone is counted by runs, not scored by it)."""
_SOURCE_PLATFORMS = {
    "web": "WEB",
    "app_android": "MOBILE_ANDROID",
    "app_ios": "MOBILE_IOS",
    "offline": "OFFLINE",
}
_LOOKBACK_SECONDS = {"1d": 86_400, "14d": 14 * 86_400}
_KEPT_EVENTS = 1_000_000


def _overall(coverage: Mapping[str, float]) -> str:
    """A local rule of thumb, not Pinterest's: an email and an event id on nearly every event."""
    email, event_id = coverage.get("hashed_email", 0.0), coverage.get("external_event_id", 0.0)
    if email >= 90 and event_id >= 90:
        return "GOOD"
    return "FAIR" if email >= 50 else "NEEDS_IMPROVEMENT"


# ---------------------------------------------------------------------------------------
# The server.


def _request_problem(body: bytes) -> dict[str, Any] | str:
    """The request's payload, or what makes it no request of events (Pinterest's 400)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the body is not JSON"
    events = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(events, list):
        return "the body must be an object whose data is a list of events"
    if not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        return f"data must hold 1 to {MAX_EVENTS_PER_REQUEST} events, not {len(events)}"
    if extra := sorted(set(payload) - {"data"}):
        unexpected = ", ".join(repr(k) for k in extra)
        return f"Additional properties are not allowed ({unexpected} was unexpected)"
    return payload


class LocalPinterest:
    """What the server knows: the token, the requests file and the events processed."""

    def __init__(self, token: str, requests_file: IO[bytes] | None, log: IO[str]) -> None:
        self.token = token
        self.requests_file = requests_file
        self.log = log
        self.event_names = KNOWN_EVENT_NAMES | {e["name"] for e in ADVERTISER_DEFINED_EVENTS}
        self.lock = threading.Lock()
        # (received at, action_source, event_name, signal mask) of each event processed.
        self.processed: deque[tuple[float, str, str, int]] = deque(maxlen=_KEPT_EVENTS)

    def say(self, line: str) -> None:
        """Write one line to the log (stderr)."""
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    def events(
        self,
        account: str,
        body: bytes,
        *,
        test: bool,
    ) -> tuple[int, dict[str, Any]]:
        """Answer ``POST .../events``: the status and the body."""
        where = f"POST /v5/ad_accounts/{account}/events"
        problem = _request_problem(body)
        if isinstance(problem, str):
            self.say(f"{where}: 400, {problem}")
            return 400, {"code": _INVALID, "message": f"Invalid request: {problem}"}
        payload = problem
        events = payload["data"]
        now = int(time.time())
        results = _results(events, now, self.event_names)
        processed = sum(r["status"] == "processed" for r in results)
        answer = {
            "num_events_received": len(events),
            "num_events_processed": processed,
            "events": results,
        }
        received = time.time()
        with self.lock:
            if not test:
                for event, result in zip(events, results, strict=True):
                    if result["status"] == "processed":
                        self.processed.append(
                            (
                                received,
                                event["action_source"],
                                event["event_name"],
                                signal_mask(event),
                            ),
                        )
                if self.requests_file is not None:
                    self.requests_file.write(orjson.dumps(payload) + b"\n")
                    self.requests_file.flush()
        note = " (test=true: not recorded)" if test else ""
        self.say(
            f"{where}{note}: {len(events)} event{'s' if len(events) != 1 else ''}, "
            f"{processed} processed, {len(events) - processed} failed",
        )
        if processed < len(events):
            return 422, {**_NOT_ALL_PROCESSED, "details": answer}
        return 200, answer

    def conversion_eqs(self, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        """Answer ``GET .../conversion_eqs``: one score per source platform seen."""
        lookback = (query.get("lookback_period") or [""])[0]
        if lookback not in _LOOKBACK_SECONDS:
            return 400, {"code": 1, "message": "lookback_period must be one of 1d, 14d"}
        since = time.time() - _LOOKBACK_SECONDS[lookback]
        # platform -> event name -> [events, events carrying each component]
        counts: dict[str, dict[str, list[int]]] = {}
        bits = [1 << SIGNALS.index(c) for c in _EQS_COMPONENTS]
        with self.lock:
            seen = [entry for entry in self.processed if entry[0] >= since]
        for _, source, name, mask in seen:
            row = counts.setdefault(_SOURCE_PLATFORMS[source], {}).setdefault(
                name, [0] * (len(bits) + 1)
            )
            row[0] += 1
            for index, bit in enumerate(bits, 1):
                row[index] += bool(mask & bit)
        scores = []
        for platform, by_name in counts.items():
            components: dict[str, dict[str, dict[str, float]]] = {}
            for index, component in enumerate(_EQS_COMPONENTS, 1):
                components[component] = {
                    name: {"coverage": round(100 * row[index] / row[0], 1)}
                    for name, row in by_name.items()
                }
            total = sum(row[0] for row in by_name.values())
            overall = {
                component: 100 * sum(row[index] for row in by_name.values()) / total
                for index, component in enumerate(_EQS_COMPONENTS, 1)
            }
            scores.append(
                {
                    "overall_status": _overall(overall),
                    "quality_components": components,
                    "ingestion_source": "CONVERSIONS_API",
                    "source_platform": platform,
                    "lookback_period": lookback,
                },
            )
        return 200, scores


def _handler(api: LocalPinterest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each answer's body waits ~40 ms for an ACK
        server_version = "target-pinterest-conversions-local-api"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, payload: Any) -> None:
            data = orjson.dumps(payload)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> tuple[str, str, dict[str, list[str]]] | None:
            """The ad account, the endpoint and the query; None once answered."""
            parts = urlsplit(self.path)
            match = _PATH.match(parts.path)
            if match is None:
                api.say(f"{method} {parts.path}: 404, not an endpoint of this server")
                self._answer(404, {"code": 404, "message": "Not found."})
                return None
            account, endpoint = match.groups()
            if self.headers.get("Authorization") != f"Bearer {api.token}":
                api.say(f"{method} {parts.path}: 401, the access token is not this server's")
                self._answer(401, _UNAUTHORIZED)
                return None
            if ad_account_id(account) != account:
                api.say(f"{method} {parts.path}: 400, the ad account id is not 1 to 18 digits")
                self._answer(
                    400,
                    {
                        "code": _INVALID,
                        "message": "Invalid request: ad_account_id must be 1 to 18 digits",
                    },
                )
                return None
            return account, endpoint, parse_qs(parts.query)

        def do_POST(self) -> None:
            length_header = self.headers.get("Content-Length")
            if length_header is None or not length_header.isdigit():
                self.close_connection = True
                self._answer(411, {"code": 411, "message": "Length Required"})
                return
            length = int(length_header)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                self._answer(413, {"code": 413, "message": "Request Entity Too Large"})
                return
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True  # the client went away mid-body: no request
                return
            route = self._route("POST")
            if route is None:
                return
            account, endpoint, query = route
            if endpoint != "events":
                self._answer(405, {"code": 405, "message": "Method Not Allowed"})
                return
            test = (query.get("test") or ["false"])[0].lower() == "true"
            self._answer(*api.events(account, body, test=test))

        def do_GET(self) -> None:
            route = self._route("GET")
            if route is None:
                return
            account, endpoint, query = route
            if endpoint == "advertiser_defined_events":
                api.say(f"GET /v5/ad_accounts/{account}/advertiser_defined_events: 200")
                self._answer(200, {"items": list(ADVERTISER_DEFINED_EVENTS)})
            elif endpoint == "conversion_eqs":
                status, payload = api.conversion_eqs(query)
                api.say(f"GET /v5/ad_accounts/{account}/conversion_eqs: {status}")
                self._answer(status, payload)
            else:
                self._answer(405, {"code": 405, "message": "Method Not Allowed"})

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a keep-alive connection never holds the exit


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve(
    host: str,
    port: int,
    token: str,
    requests_path: Path | None,
    stdout: IO[str] = sys.stdout,
    stderr: IO[str] = sys.stderr,
) -> int:
    """Serve until SIGTERM or SIGINT; return the exit code (0, or 1 when it cannot listen)."""
    api = LocalPinterest(token, None, stderr)
    server_class = _Server6 if ":" in host else _Server
    try:
        server = server_class((host, port), _handler(api))
    except OSError as exc:
        stderr.write(f"Cannot listen on {host} port {port}: {exc.strerror or exc}\n")
        return 1
    requests_file = None
    if requests_path is not None:
        requests_path.parent.mkdir(parents=True, exist_ok=True)
        requests_file = api.requests_file = requests_path.open("ab")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    bound_port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    stdout.write(f"Listening on http://{shown}:{bound_port}\n")
    stdout.flush()
    accepted = DEMO_TOKEN if token == DEMO_TOKEN else "the --token given"
    written = f"; request bodies go to {requests_path}" if requests_path else ""
    stderr.write(f"Access token: {accepted}{written}. Stop with Ctrl-C.\n")
    stderr.flush()
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if requests_file is not None:
            requests_file.close()
    stderr.write("Stopped.\n")
    return 0


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0 to 65535")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """The command: parse the options, then serve."""
    parser = argparse.ArgumentParser(
        prog="target-pinterest-conversions-local-api",
        description=(
            "A local stand-in for Pinterest's API for Conversions: it checks every event "
            "with the target's own rules and answers as Pinterest does. Point the target's "
            "api_url at the URL it prints."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=0, help="port to listen on (0, the default: a free one)"
    )
    parser.add_argument(
        "--token",
        default=DEMO_TOKEN,
        help=f"the access token accepted (default: {DEMO_TOKEN})",
    )
    parser.add_argument(
        "--requests-file",
        type=Path,
        metavar="PATH",
        help=(
            "append the body of each request answered with per-event results to this file, "
            "one JSON line each (not those sent with test=true)"
        ),
    )
    args = parser.parse_args(argv)
    sys.exit(serve(args.host, args.port, args.token, args.requests_file))


if __name__ == "__main__":
    main()
