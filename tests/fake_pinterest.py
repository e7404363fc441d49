"""A local stand-in for Pinterest's events endpoint, on a real HTTP server on 127.0.0.1.

It checks every request the way Pinterest would (path, bearer token, JSON body, at most
1000 events, the published request schema when ../shared is present, hashed fields as
64-hex) and answers with scripted responses: by default a 200 with every event
processed, except event ids listed in ``fail_ids``. It serves one ad account or several
(``ad_account_id`` a collection); a path naming another account is a 400 it records.

It also answers ``GET /v5/ad_accounts/{id}/advertiser_defined_events`` (what ``--check``
reads) in the shape of Pinterest's spec, ``{"items": [{"name": ...,
"mapped_conversion_type": ...}]}``, with the names of ``defined_events`` (or of
``defined_events_of[account]``), after the token check; ``defined_events_script`` scripts
other answers (a 403, a 429 with Retry-After). Those reads are recorded in ``reads``, apart
from ``requests`` (the events sent).

And ``GET /v5/ad_accounts/{id}/conversion_eqs?lookback_period=1d|14d`` (what ``--quality``
reads): the spec's list of ``EventQualityScore`` in ``eqs`` (or ``eqs_of[account]``), after
the token check, a 400 without a valid ``lookback_period``; ``eqs_script`` scripts other
answers. Those reads are recorded in ``eqs_reads``. :func:`eqs_score` builds a score.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.pinterest_schema import load_request_validator

DEADLINE = 120.0  # a held request is answered after this anyway: a test's bug cannot hang

HEX64 = re.compile(r"^[0-9a-f]{64}$")
HASHED = (
    "em",
    "ph",
    "fn",
    "ln",
    "ct",
    "st",
    "zp",
    "country",
    "ge",
    "db",
    "external_id",
    "hashed_maids",
)


REFUSALS = {
    403: {"code": 29, "message": "You are not permitted to access that resource."},
    404: {"code": 404, "message": "Ad account not found."},
}
"""Pinterest's bodies for an ad account that refuses the token (spec examples)."""


@dataclass
class Scripted:
    """One scripted answer; ``status=None`` means the default per-event 200."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None
    close: bool = False  # drop the connection without answering
    # Answer only once the test sets this: a request held on the wire for exactly as
    # long as the test needs, where a fixed delay would race the test's next step.
    release: threading.Event | None = None


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    events: list[dict[str, Any]]
    status: int
    at: float

    @property
    def account(self) -> str:
        """The ad account of the request's path."""
        return self.path.split("/")[3]


class FakePinterest:
    """Run with ``with FakePinterest(...) as api:``; ``api.url`` is the api_url to use."""

    def __init__(
        self,
        *,
        token: str = "test-token-XYZ",
        ad_account_id: str | Collection[str] = "549755885175",
        delay: float = 0.0,
    ) -> None:
        self.token = token
        accounts = [ad_account_id] if isinstance(ad_account_id, str) else list(ad_account_id)
        self.ad_account_id = accounts[0]
        self.paths = {f"/v5/ad_accounts/{account}/events" for account in accounts}
        self.delay = delay
        # While this is an unset Event, every request waits for it before its answer.
        self.hold: threading.Event | None = None
        self._releases: list[threading.Event] = []
        self.script: deque[Scripted] = deque()
        self.fail_ids: dict[str, str] = {}
        # Requests holding one of these event ids answer 503 (Retry-After: 1): a stuck batch.
        self.stuck_ids: set[str] = set()
        self.arrived = 0  # requests received, counted before any scripted delay
        self.arrivals: list[float] = []  # when each request arrived (time.time())
        self.requests: list[Received] = []
        self.errors: list[str] = []
        self.accepted: list[tuple[float, str]] = []
        self.accepted_accounts: list[tuple[str, str]] = []  # (ad account, event id)
        # Scripted answers for one ad account's requests, before the shared script.
        self.script_for: dict[str, deque[Scripted]] = {}
        # Ad accounts that refuse this (valid) token, always: 403 or 404, as Pinterest does.
        self.refuse: dict[str, int] = {}
        # A body larger than this many bytes is refused with a 413, as a gateway would.
        self.max_body_bytes: int | None = None
        # The advertiser-defined events of every ad account served, or of one.
        self.defined_events: list[str] = []
        self.defined_events_of: dict[str, list[str]] = {}
        # Scripted answers to the reads of advertiser-defined events, before the default.
        self.defined_events_script: deque[Scripted] = deque()
        self.reads: list[Received] = []  # GETs of advertiser-defined events
        # The Event Quality Scores of every ad account served, or of one (the spec's shape).
        self.eqs: list[dict[str, Any]] = []
        self.eqs_of: dict[str, list[dict[str, Any]]] = {}
        self.eqs_script: deque[Scripted] = deque()
        self.eqs_reads: list[Received] = []  # GETs of conversion_eqs
        self.accounts = accounts
        self._lock = threading.Lock()
        self._validator = load_request_validator()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def schema_checked(self) -> bool:
        return self._validator is not None

    def accepted_ids(self) -> list[str]:
        with self._lock:
            return [event_id for _, event_id in self.accepted]

    def accepted_by_account(self) -> dict[str, list[str]]:
        """The event ids processed, by the ad account they were sent to."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for account, event_id in self.accepted_accounts:
                out.setdefault(account, []).append(event_id)
        return out

    def all_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for r in self.requests for e in r.events]

    def __enter__(self) -> FakePinterest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # Held requests are let go, else server_close() would wait for them for ever.
        with self._lock:
            releases = [*self._releases, *([self.hold] if self.hold else [])]
        for release in releases:
            release.set()
        self._server.shutdown()
        self._server.server_close()

    def _check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[list, str | None]:
        if path not in self.paths:
            return [], f"unexpected path {path}"
        if headers.get("authorization") != f"Bearer {self.token}":
            return [], "bad authorization header"
        if not headers.get("content-type", "").startswith("application/json"):
            return [], "content-type is not application/json"
        try:
            payload = json.loads(body)
        except ValueError:
            return [], "body is not JSON"
        events = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(events, list) or not 1 <= len(events) <= 1000:
            return [], "data must hold 1 to 1000 events"
        if self._validator is not None:
            problems = sorted(self._validator.iter_errors(payload), key=str)
            if problems:
                return events, f"schema: {problems[0].message[:300]}"
        for event in events:
            for key in HASHED:
                for digest in event.get("user_data", {}).get(key, []):
                    if not HEX64.match(digest):
                        return events, f"user_data.{key} holds a value that is not a sha256 hex"
        return events, None

    def _read(self, path: str, query: str, headers: dict[str, str]) -> tuple[int, Any, Scripted]:
        """Answer a GET of advertiser-defined events: (status, body, scripted extras)."""
        parts = path.split("/")  # ['', 'v5', 'ad_accounts', id, 'advertiser_defined_events']
        if (
            len(parts) != 5
            or parts[:3] != ["", "v5", "ad_accounts"]
            or parts[4] != "advertiser_defined_events"
            or parts[3] not in self.accounts
        ):
            with self._lock:
                self.errors.append(f"unexpected GET {path}")
            return 404, {"code": 404, "message": "Not found"}, Scripted()
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"code": 2, "message": "Authentication failed."}, Scripted()
        if query:
            with self._lock:
                self.errors.append(f"unexpected query {query!r} on GET {path}")
        with self._lock:
            scripted = (
                self.defined_events_script.popleft() if self.defined_events_script else Scripted()
            )
        if scripted.status is not None:
            return scripted.status, scripted.body, scripted
        names = self.defined_events_of.get(parts[3], self.defined_events)
        # The spec's AdvertiserDefinedEvent: a name, and the standard type it is mapped
        # to for optimization (nullable; the spec's example is PAGE_LOAD).
        items = [{"name": name, "mapped_conversion_type": "PAGE_LOAD"} for name in names]
        return 200, {"items": items}, scripted

    def _read_eqs(
        self, path: str, query: str, headers: dict[str, str]
    ) -> tuple[int, Any, Scripted]:
        """Answer a GET of conversion_eqs: (status, body, scripted extras)."""
        account = path.split("/")[3]
        if account not in self.accounts:
            with self._lock:
                self.errors.append(f"unexpected GET {path}")
            return 404, {"code": 404, "message": "Not found"}, Scripted()
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"code": 2, "message": "Authentication failed."}, Scripted()
        params = parse_qs(query)
        if set(params) - {"lookback_period", "source_platform", "ingestion_source"} or params.get(
            "lookback_period"
        ) not in (["1d"], ["14d"]):
            with self._lock:
                self.errors.append(f"unexpected query {query!r} on GET {path}")
            return 400, {"code": 1, "message": "Invalid lookback_period"}, Scripted()
        with self._lock:
            scripted = self.eqs_script.popleft() if self.eqs_script else Scripted()
        if scripted.status is not None:
            return scripted.status, scripted.body, scripted
        return 200, self.eqs_of.get(account, self.eqs), scripted

    def _answer(self, events: list[dict[str, Any]]) -> tuple[int, Any]:
        results = []
        for event in events:
            message = self.fail_ids.get(event.get("event_id", ""))
            results.append(
                {
                    "status": "failed" if message else "processed",
                    "error_message": message or "",
                    "warning_message": "",
                },
            )
        processed = sum(r["status"] == "processed" for r in results)
        body = {
            "num_events_received": len(events),
            "num_events_processed": processed,
            "events": results,
        }
        if processed < len(events):
            return 422, {"code": 953, "message": "Not all events were processed", "details": body}
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer's body waits ~32 ms for an ACK

            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                eqs = parsed.path.endswith("/conversion_eqs") and parsed.path.count("/") == 4
                read = fake._read_eqs if eqs else fake._read
                status, answer, scripted = read(parsed.path, parsed.query, headers)
                with fake._lock:
                    (fake.eqs_reads if eqs else fake.reads).append(
                        Received(
                            parsed.path, parse_qs(parsed.query), headers, [], status, time.time()
                        ),
                    )
                self._send(scripted, status, answer)

            def _send(self, scripted: Scripted, status: int, answer: Any) -> None:
                data = scripted.raw if scripted.raw is not None else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                with fake._lock:
                    fake.arrived += 1
                    fake.arrivals.append(time.time())
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The client died mid-body (a kill test): no request was made, as a
                    # real server sees it; nothing to check, answer or count as events.
                    self.close_connection = True
                    return
                parsed = urlparse(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                events, problem = fake._check(parsed.path, headers, body)
                account = parsed.path.split("/")[3] if parsed.path.count("/") >= 4 else ""
                with fake._lock:
                    own = fake.script_for.get(account)
                    if own:
                        scripted = own.popleft()
                    else:
                        scripted = fake.script.popleft() if fake.script else Scripted()
                if problem == "bad authorization header":
                    status, answer = (
                        401,
                        {"code": 2, "message": "Authentication failed.", "status": "failure"},
                    )
                elif account in fake.refuse:
                    status = fake.refuse[account]
                    answer = REFUSALS[status]
                elif fake.max_body_bytes is not None and len(body) > fake.max_body_bytes:
                    status, answer = 413, {"code": 413, "message": "Request Entity Too Large"}
                elif problem:
                    with fake._lock:
                        fake.errors.append(problem)
                    status, answer = 400, {"code": 1, "message": problem}
                elif fake.stuck_ids and any(e.get("event_id") in fake.stuck_ids for e in events):
                    status, answer = 503, {"code": 3, "message": "stuck on purpose"}
                    scripted = Scripted(status=503, body=answer, headers={"Retry-After": "1"})
                elif scripted.status is None:
                    status, answer = fake._answer(events)
                else:
                    status, answer = scripted.status, scripted.body
                release = scripted.release or fake.hold
                if release is not None:
                    with fake._lock:
                        fake._releases.append(release)
                    release.wait(DEADLINE)
                time.sleep(scripted.delay or fake.delay)
                if scripted.close:
                    with fake._lock:
                        fake.requests.append(
                            Received(
                                parsed.path, parse_qs(parsed.query), headers, events, 0, time.time()
                            ),
                        )
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                with fake._lock:
                    fake.requests.append(
                        Received(
                            parsed.path,
                            parse_qs(parsed.query),
                            headers,
                            events,
                            status,
                            time.time(),
                        ),
                    )
                    if status in (200, 422):
                        results = (answer or {}).get("events") or (answer or {}).get(
                            "details",
                            {},
                        ).get("events", [])
                        now = time.time()
                        for event, result in zip(events, results, strict=False):
                            if result.get("status") == "processed":
                                fake.accepted.append((now, event["event_id"]))
                                fake.accepted_accounts.append((account, event["event_id"]))
                self._send(scripted, status, answer)

        return Handler


def eqs_score(
    coverage: dict[str, dict[str, float]],
    *,
    overall_status: str = "GOOD",
    source_platform: str = "WEB",
    ingestion_source: str = "CONVERSIONS_API",
    lookback_period: str = "14d",
    issues: dict[tuple[str, str], list[dict[str, str]]] | None = None,
) -> dict[str, Any]:
    """One of the spec's ``EventQualityScore``: ``coverage`` maps event type -> component ->
    coverage percentage (0 to 100); ``issues`` maps (component, event type) to issues."""
    components: dict[str, dict[str, Any]] = {}
    for event_type, by_component in coverage.items():
        for component, value in by_component.items():
            details: dict[str, Any] = {"coverage": value}
            found = (issues or {}).get((component, event_type))
            if found:
                details["issues"] = found
            components.setdefault(component, {})[event_type] = details
    return {
        "overall_status": overall_status,
        "quality_components": components,
        "ingestion_source": ingestion_source,
        "source_platform": source_platform,
        "lookback_period": lookback_period,
    }
