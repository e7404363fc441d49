"""HTTP delivery to ``POST {api_url}/v5/ad_accounts/{ad_account_id}/events``.

:class:`PinterestClient` sends one request of up to 1000 events to one ad account on a
keep-alive session (one host serves every account), retries transient failures (429,
5xx, connection errors, timeouts) with exponential backoff and full jitter, honours
``Retry-After`` up to ``max_retry_after``, and returns one :class:`EventResult` per
event read from the 200 body (``events``) or the 422 body (``details.events``). Errors
that a retry cannot fix raise a :class:`DeliveryError` whose message says what to
change. :class:`DryRunSender` has the same interface and writes the exact request bodies
(with their ad account) to a file instead of the network.

:meth:`PinterestClient.advertiser_defined_events` reads an ad account's
advertiser-defined events (``GET .../advertiser_defined_events``, for ``--check``), and
:meth:`PinterestClient.conversion_eqs` its Event Quality Scores (``GET .../conversion_eqs``,
for ``--quality``), with the same token, timeouts, retries and redaction.

Pinterest limits requests per ad account, so a 429 pauses every request to that account
(:class:`~.throttle.Pauses`), not to the others; requests with ``test=true``, limited
to 10 a second per app, pass a :class:`~.throttle.TokenBucket` first.

Every wait is bounded: one request (connect, headers and whole body) is cut at
``request_timeout`` by a watchdog that shuts its socket, a body is read up to
:data:`MAX_RESPONSE_BYTES`, and the waits between tries end at once when the run stops.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec
import orjson
import requests
import urllib3
from requests.adapters import HTTPAdapter
from singer_sdk import metrics

from target_pinterest_conversions.context.files import output_file_error
from target_pinterest_conversions.context.redaction import Redactor
from target_pinterest_conversions.delivery.throttle import Clock, Pauses, TokenBucket
from target_pinterest_conversions.errors import AuthError, DeliveryError
from target_pinterest_conversions.pinterest.limits import TEST_REQUESTS_PER_SECOND

logger = logging.getLogger("target-pinterest-conversions.client")

MAX_EVENTS_PER_REQUEST = 1000
DEFAULT_API_URL = "https://api.pinterest.com"
_MAX_MESSAGE_CHARS = 500
MAX_RESPONSE_BYTES = 4 << 20
"""Pinterest's answers are a few hundred KB at most; anything larger is not its answer."""
UNREADABLE_ANSWERS_LIMIT = 3
"""2xx answers in a row that are not Pinterest's JSON before the run stops (wrong api_url)."""
_ENDPOINT = metrics.Tag.ENDPOINT
_ENDPOINT_NAME = "/v5/ad_accounts/{ad_account_id}/events"
_ADE_ENDPOINT_NAME = "/v5/ad_accounts/{ad_account_id}/advertiser_defined_events"
_EQS_ENDPOINT_NAME = "/v5/ad_accounts/{ad_account_id}/conversion_eqs"
EQS_LOOKBACK_PERIODS = ("1d", "14d")
"""The spec's ``LookbackPeriodOptions`` of ``GET .../conversion_eqs``."""
_T = TypeVar("_T")


@dataclass(frozen=True)
class EventResult:
    """Pinterest's verdict on one event; empty strings and null mean no message."""

    status: str
    error_message: str = ""
    warning_message: str = ""

    @property
    def processed(self) -> bool:
        """Tell whether Pinterest processed the event."""
        return self.status == "processed"


PROCESSED = EventResult(status="processed")
UNKNOWN_STATUS = "unknown"
"""An event whose fate is unknown: the answer was not Pinterest's (dead-lettered)."""


@dataclass(frozen=True)
class DefinedEvents:
    """An ad account's advertiser-defined events, as Pinterest listed them.

    ``names`` are in Pinterest's order, each once; ``unnamed`` counts the listed items
    without a name (not the documented shape), which are left out.
    """

    names: tuple[str, ...]
    unnamed: int = 0


@dataclass(frozen=True)
class QualityScore:
    """One of Pinterest's Event Quality Scores (the spec's ``EventQualityScore``).

    ``components`` maps each of ``quality_components`` to its event types' coverage, as
    Pinterest gives it: a percentage (0 to 100). ``issues`` maps (component, event type) to
    the names of the issues Pinterest detected there.
    """

    source_platform: str
    ingestion_source: str
    lookback_period: str
    overall_status: str
    components: dict[str, dict[str, float]]
    issues: dict[tuple[str, str], tuple[str, ...]]


def _quality_score(item: Any, redact: Redactor) -> QualityScore | None:
    """Read one ``EventQualityScore``; ``None`` when it is not in the spec's shape."""
    if not isinstance(item, dict):
        return None
    texts = [item.get(key) for key in ("source_platform", "ingestion_source", "overall_status")]
    components = item.get("quality_components")
    if not all(isinstance(t, str) for t in texts) or not isinstance(components, dict):
        return None
    coverage: dict[str, dict[str, float]] = {}
    issues: dict[tuple[str, str], tuple[str, ...]] = {}
    for component, by_type in components.items():
        if not isinstance(by_type, dict):
            return None
        for event_type, details in by_type.items():
            value = details.get("coverage") if isinstance(details, dict) else None
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                return None
            coverage.setdefault(str(component), {})[str(event_type)] = float(value)
            found = details.get("issues")
            if isinstance(found, list):
                names = [
                    redact(str(i.get("name") or i.get("id") or ""))[:_MAX_MESSAGE_CHARS]
                    for i in found
                    if isinstance(i, dict)
                ]
                if any(names):
                    issues[(str(component), str(event_type))] = tuple(n for n in names if n)
    lookback = item.get("lookback_period")
    return QualityScore(
        source_platform=str(texts[0]),
        ingestion_source=str(texts[1]),
        lookback_period=lookback if isinstance(lookback, str) else "",
        overall_status=str(texts[2]),
        components=coverage,
        issues=issues,
    )


def _json(response: Answer) -> Any:
    """Decode a response body; raise ``ValueError`` when it is not JSON."""
    return orjson.loads(response.content)


def _json_or_none(response: Answer) -> Any:
    """Decode a response body; ``None`` when it is not JSON (the caller says what it wanted)."""
    try:
        return _json(response)
    except ValueError:
        return None


class RequestRejected(DeliveryError):
    """Pinterest refused the request itself (400, 404 or another 4xx)."""


class RetriesExhausted(DeliveryError):
    """A transient failure persisted through every allowed try."""


class RetryAfterTooLong(RetriesExhausted):
    """Pinterest asked for a wait longer than ``max_retry_after``: not a network failure."""


class NotPinterest(DeliveryError):
    """Several 2xx answers in a row were not Pinterest's JSON: api_url is probably wrong."""


class AccountRefused(DeliveryError):
    """Pinterest refused one ad account (403 or 404); raised with ``account_refusals`` only.

    Whether it is the account or the token that is wrong depends on whether the token is
    known good, which the caller decides: ``token_proven`` says whether a request of this
    client had Pinterest's answer before, and ``fatal`` is the error that stops the run
    when the token is not known good (what a client without ``account_refusals`` raises).
    ``reason`` says what Pinterest said (redacted) and what to fix.
    """

    def __init__(
        self,
        account: str,
        status: int,
        reason: str,
        *,
        token_proven: bool,
        fatal: DeliveryError,
    ) -> None:
        super().__init__(reason)
        self.account = account
        self.status = status
        self.reason = reason
        self.token_proven = token_proven
        self.fatal = fatal


class _TooLarge(Exception):
    """A 413: Pinterest (or a gateway before it) refused the request as too large.

    Control flow of the client (the batch is split and sent again): it never reaches the
    command.
    """


class DeliveryStopped(Exception):
    """The run is stopping: the request was abandoned or not retried; nothing is lost.

    Raised only once the run is already stopping, and dropped then: it never reaches the
    command.
    """


class TransientError(Exception):
    """A failure worth retrying; ``retry_after`` is the server's wait in seconds.

    ``rate_limited`` marks a 429: the wait then holds back the whole ad account. Control
    flow of the retries (a failure past the last try is a :class:`RetriesExhausted`): it
    never reaches the command.
    """

    def __init__(
        self,
        description: str,
        retry_after: float | None = None,
        *,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class Sender(Protocol):
    """Anything that delivers a batch of events and reports per-event results."""

    def send(
        self,
        events: Sequence[dict[str, Any]],
        ad_account_id: str | None = None,
    ) -> list[EventResult]:
        """Deliver ``events`` (at most 1000) to one ad account; one result per event, in order.

        ``ad_account_id`` ``None`` means the sender's default account.
        """
        ...

    def close(self) -> None:
        """Release resources."""
        ...


def encode_body(events: Sequence[dict[str, Any]]) -> bytes:
    """Encode the request body ``{"data": [...]}`` as compact JSON."""
    return orjson.dumps({"data": list(events)})


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Read ``Retry-After`` as delta-seconds or an HTTP date; ``None`` when absent or bad.

    ``nan``, infinities and anything else that is not a time are treated as absent.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _wait_times(
    base: float,
    cap: float,
) -> Generator[float, TransientError | None, None]:
    """Yield waits: the server's ``Retry-After`` when given, else capped full-jitter expo.

    The retry loop of :meth:`PinterestClient._retrying` (ours: no retry library) sends
    each :class:`TransientError` it catches into this generator, which is how the wait
    can depend on the response.
    """
    exc = yield 0.0
    attempt = 0
    while True:
        if exc is not None and exc.retry_after is not None:
            wait = exc.retry_after
        else:
            wait = random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311
        attempt += 1
        exc = yield wait


_PROCESSED_ITEM = {"status": "processed", "error_message": "", "warning_message": ""}


class _Verdict(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """One event's result in the usual 200 body, decoded without a dict per event."""

    status: str
    error_message: str | None = None
    warning_message: str | None = None


class _Accepted(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """Pinterest's 200 body in its documented shape, and nothing else (any other: ``_json``)."""

    events: list[_Verdict]
    num_events_received: int | None = None
    num_events_processed: int | None = None


_PROCESSED_VERDICT = _Verdict("processed", "", "")
_decode_accepted = msgspec.json.Decoder(_Accepted).decode


def _all_processed(content: bytes, count: int) -> bool:
    """Tell whether a 200 body says each of ``count`` events was processed, without a message.

    The usual answer, checked in C (typed decoding, then one pass of comparisons): it runs
    in a delivery thread, which holds the GIL the reading thread needs. Every key and value
    must be of the documented shape, so any other body (unknown keys, other types, another
    verdict) is left to :func:`_results`, which reads it as before.
    """
    try:
        events = _decode_accepted(content).events
    except msgspec.DecodeError:  # a ValidationError too
        return False
    return len(events) >= count and events[:count].count(_PROCESSED_VERDICT) == count


def _network_problem(exc: BaseException) -> str:
    """Describe a network failure by kind, never by its text (which may echo the URL)."""
    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
        return "the request timed out"
    cut_off = (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError)
    if isinstance(exc, cut_off):
        return "the answer was cut off"
    return f"connection failed ({type(exc).__name__})"


def _results(payload: Any, count: int, redact: Redactor) -> list[EventResult] | None:
    # Messages are redacted as they are read: a gateway may echo the Authorization
    # header into them, and they go on to the dead-letter file, the summary and logs.
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        return None
    events = events[:count]
    if events.count(_PROCESSED_ITEM) == len(events):
        # The usual answer, recognised in one pass in C: it runs in a delivery
        # thread, and every Python step there holds the GIL the reading thread needs.
        return [PROCESSED] * len(events)
    out = []
    for item in events:
        item = item if isinstance(item, dict) else {}
        if (
            item.get("status") == "processed"
            and not item.get("error_message")
            and not item.get("warning_message")
        ):
            out.append(PROCESSED)  # the common verdict, shared: results are immutable
            continue
        out.append(
            EventResult(
                status=str(item.get("status") or "failed"),
                error_message=redact(str(item.get("error_message") or "")),
                warning_message=redact(str(item.get("warning_message") or "")),
            ),
        )
    return out


def _message(response: Answer, redact: Redactor) -> str:
    """The answer's message (or reason phrase), redacted: it may echo the token."""
    try:
        payload = _json(response)
    except ValueError:
        return redact(response.reason or "")
    if isinstance(payload, dict) and payload.get("message"):
        # Redacted before it is cut: a cut could leave part of the token unrecognised.
        return redact(str(payload["message"]))[:_MAX_MESSAGE_CHARS]
    return redact(response.reason or "")


def _refusal(account: str, status: int, message: str) -> str:
    """The reason an ad account's events are dead-lettered: what Pinterest said, what to fix."""
    said = f"HTTP {status}: {message or 'no message'}"
    if status == 404:
        return (
            f"Pinterest did not find ad account {account} ({said}) although the token works "
            f"for other ad accounts: check that {account} is the right ad_account_id"
        )
    return (
        f"Pinterest refused ad account {account} ({said}) although the token works for "
        f"other ad accounts: check that {account} is the right ad_account_id and that the "
        "token's user has a role on it (Owner, Admin, Analyst, Audience or Campaign)"
    )


@dataclass(frozen=True)
class Answer:
    """A response read whole (within bounds): status, headers, body and reason phrase."""

    status_code: int
    headers: Any
    content: bytes
    reason: str


_ACTIVE = threading.local()
"""The delivery thread's request in flight, for the watchdog: a :class:`_Flight`."""


class _Flight:
    """One request in flight: the connection it uses, and why it was cut, if it was."""

    __slots__ = ("conn", "cut")

    def __init__(self) -> None:
        self.conn: Any = None
        self.cut: str | None = None

    def abort(self, why: str) -> None:
        """Shut the connection's socket: a blocked read returns at once."""
        self.cut = self.cut or why
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            # Already closed means the request is over anyway.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _TrackedHTTPConnection(urllib3.connection.HTTPConnection):
    """Tells the thread's :class:`_Flight` which connection the request uses."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        flight = getattr(_ACTIVE, "flight", None)
        if flight is not None:
            flight.conn = self
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """Tells the thread's :class:`_Flight` which connection the request uses."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        flight = getattr(_ACTIVE, "flight", None)
        if flight is not None:
            flight.conn = self
        super().request(*args, **kwargs)


class _TrackedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


def _tracked_adapter() -> HTTPAdapter:
    """An adapter whose connections the watchdog can cut (no retries of its own)."""
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {
        "http": _TrackedHTTPPool,
        "https": _TrackedHTTPSPool,
    }
    return adapter


class PinterestClient:
    """Sends batches of events to Pinterest's Conversions API."""

    def __init__(
        self,
        *,
        ad_account_id: str | None = None,
        access_token: str,
        api_url: str = DEFAULT_API_URL,
        test_mode: bool = False,
        max_tries: int = 8,
        timeout: float = 60.0,
        max_retry_after: float = 300.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        session: requests.Session | None = None,
        user_agent: str = "target-pinterest-conversions",
        stop: threading.Event | None = None,
        test_requests: TokenBucket | None = None,
        clock: Clock = time.monotonic,
        account_refusals: bool = False,
    ) -> None:
        self.ad_account_id = ad_account_id
        """The account :meth:`send` uses when it is given none."""
        self.account_refusals = account_refusals
        """Raise :class:`AccountRefused` for a 403 or 404, for the caller to judge."""
        self._proven = threading.Event()
        """Set once a request had Pinterest's answer (200 or 422): the token works."""
        self.api_url = api_url
        self._base = f"{api_url.rstrip('/')}/v5/ad_accounts/"
        self.params = {"test": "true"} if test_mode else {}
        # Pinterest takes 10 test requests a second per app: more are refused with 429s.
        self._test_requests = (
            (test_requests or TokenBucket(TEST_REQUESTS_PER_SECOND, clock=clock))
            if test_mode
            else None
        )
        self._pauses = Pauses(clock)
        self.max_tries = max_tries
        self.timeout = timeout
        self.max_retry_after = max_retry_after
        self._backoff = (backoff_base, backoff_max)
        self._stop = stop or threading.Event()
        # One keep-alive session per delivery thread (requests' Session is not
        # documented as thread-safe), or the one given, for tests.
        self._given_session = session
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._flights: set[_Flight] = set()
        self._lock = threading.Lock()
        self._unreadable_in_a_row = 0
        self._redact = Redactor((access_token,))
        """Masks the token in text read from the network, before it goes anywhere."""
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._read_headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        """A GET's headers: the same, without a body's content type."""

    def url(self, ad_account_id: str) -> str:
        """The events endpoint of an ad account."""
        return f"{self._base}{ad_account_id}/events"

    def advertiser_defined_events(self, ad_account_id: str) -> DefinedEvents:
        """Read the names of an ad account's advertiser-defined events (a GET, no ``test``).

        Tried like a request of events (429, 5xx and network failures retried, Retry-After
        honoured up to ``max_retry_after``), but neither paced as a test request nor
        pausing the account's events after a 429: Pinterest limits these reads apart
        (``ads_read``). Messages read from the answer are redacted.

        Raises:
            AuthError: the token was refused (401), or may not read the account (403).
            RequestRejected: 404, another 4xx or a redirect.
            NotPinterest: a 2xx that is not the documented ``{"items": [...]}``.
            RetriesExhausted: 429, 5xx or network failures outlasted ``max_tries``, or
                Pinterest asked to wait longer than ``max_retry_after``.
            DeliveryStopped: the run is stopping.

        """
        url = f"{self._base}{ad_account_id}/advertiser_defined_events"
        return self._retrying(
            f"{ad_account_id} ads_read",  # its own pause: a read's 429 holds no events back
            lambda: self._read_defined_events(url, ad_account_id),
            what=f"Pinterest's list of advertiser-defined events of ad account {ad_account_id}",
            later="run the check again later",
            paced=False,
        )

    def _read_defined_events(self, url: str, account: str) -> DefinedEvents:
        answer = self._call(url, None, method="GET", endpoint=_ADE_ENDPOINT_NAME)
        status = answer.status_code
        if 200 <= status < 300:
            payload = _json_or_none(answer)
            items = payload.get("items") if isinstance(payload, dict) else None
            if not isinstance(items, list):
                kind = answer.headers.get("Content-Type", "no content type")
                raise NotPinterest(
                    f"the answer from {self.api_url} (HTTP {status}, {kind}) was not "
                    "Pinterest's list of advertiser-defined events: check api_url",
                )
            names = [item.get("name") if isinstance(item, dict) else None for item in items]
            found = [self._redact(n) for n in names if isinstance(n, str) and n.strip()]
            return DefinedEvents(tuple(dict.fromkeys(found)), len(names) - len(found))
        raise self._read_failure(
            answer,
            denied=f"read the advertiser-defined events of ad account {account}",
            missing=f"the advertiser-defined events of ad account {account} were not found",
        )

    def conversion_eqs(
        self, ad_account_id: str, lookback_period: str = "14d"
    ) -> list[QualityScore]:
        """Read an ad account's Event Quality Scores (``GET .../conversion_eqs``).

        Pinterest gives one per source platform and ingestion source it saw events of.
        Tried, paused and redacted as :meth:`advertiser_defined_events` is; Pinterest asks
        for a token with ``ads:read``.

        Raises:
            AuthError: the token was refused (401), or may not read the account (403).
            RequestRejected: 400, 404, another 4xx or a redirect.
            NotPinterest: a 2xx that is not the documented list of ``EventQualityScore``.
            RetriesExhausted: 429, 5xx or network failures outlasted ``max_tries``, or
                Pinterest asked to wait longer than ``max_retry_after``.
            DeliveryStopped: the run is stopping.

        """
        if lookback_period not in EQS_LOOKBACK_PERIODS:
            raise ValueError(f"lookback_period must be one of {EQS_LOOKBACK_PERIODS}")
        url = f"{self._base}{ad_account_id}/conversion_eqs?lookback_period={lookback_period}"
        return self._retrying(
            f"{ad_account_id} ads_read",
            lambda: self._read_eqs(url, ad_account_id),
            what=f"Pinterest's Event Quality Score of ad account {ad_account_id}",
            later="read it again later",
            paced=False,
        )

    def _read_eqs(self, url: str, account: str) -> list[QualityScore]:
        answer = self._call(url, None, method="GET", endpoint=_EQS_ENDPOINT_NAME)
        status = answer.status_code
        if 200 <= status < 300:
            payload = _json_or_none(answer)
            scores = (
                [_quality_score(item, self._redact) for item in payload]
                if isinstance(payload, list)
                else [None]
            )
            read = [score for score in scores if score is not None]
            if len(read) < len(scores):
                kind = answer.headers.get("Content-Type", "no content type")
                raise NotPinterest(
                    f"the answer from {self.api_url} (HTTP {status}, {kind}) was not "
                    "Pinterest's list of Event Quality Scores: check api_url",
                )
            return read
        raise self._read_failure(
            answer,
            denied=f"read the Event Quality Score of ad account {account}",
            missing=f"no Event Quality Score of ad account {account} was found",
        )

    def _read_failure(self, answer: Answer, *, denied: str, missing: str) -> Exception:
        """The error of a read Pinterest did not answer with its data (a GET's non-2xx)."""
        status = answer.status_code
        message = _message(answer, self._redact)
        said = f"HTTP {status}: {message or 'no message'}"
        if status == 429 or status >= 500:
            return TransientError(
                f"HTTP {status} {message}".strip(),
                retry_after=parse_retry_after(answer.headers.get("Retry-After")),
                rate_limited=status == 429,
            )
        if status == 401:
            return AuthError(f"the access token was rejected ({said}): check access_token")
        if status == 403:
            return AuthError(
                f"Pinterest did not let this token {denied} ({said}): that needs a token with "
                "the ads:read scope whose user has a role on the account (a conversion access "
                "token from Ads Manager may not have it)",
            )
        if status == 404:
            return RequestRejected(
                f"{missing} ({said}): check ad_account_id and api_url",
            )
        if 300 <= status < 400:
            return RequestRejected(
                f"the API answered with a redirect ({status}): check api_url; "
                "the token is never sent to another address",
            )
        return RequestRejected(f"Pinterest refused the request ({said})")

    @property
    def token_proven(self) -> bool:
        """Whether a request of this client had Pinterest's answer (200 or 422) yet."""
        return self._proven.is_set()

    def send(
        self,
        events: Sequence[dict[str, Any]],
        ad_account_id: str | None = None,
    ) -> list[EventResult]:
        """Send up to 1000 events to one ad account; return Pinterest's result for each.

        ``ad_account_id`` defaults to the client's. Results come in the events' order.

        A request refused as too large (413) is sent again as two halves, each split again
        while it is refused; an event refused alone gets a ``failed`` result saying so.

        Raises:
            AuthError: the token or the ad account was refused (401, 403).
            AccountRefused: with ``account_refusals``, the ad account was refused (403, 404).
            RequestRejected: the request was refused as a whole (400, 404, other 4xx).
            RetriesExhausted: 429, 5xx or network failures outlasted ``max_tries``, or
                Pinterest asked to wait longer than ``max_retry_after``.
            NotPinterest: several 2xx answers in a row were not Pinterest's JSON.
            DeliveryStopped: the run is stopping; the events were not delivered.

        """
        if not 0 < len(events) <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"a request holds 1 to {MAX_EVENTS_PER_REQUEST} events")
        account = ad_account_id or self.ad_account_id
        if not account:
            raise ValueError("no ad account to send to")
        return self._fitting(events, account, top=True)

    def _fitting(
        self,
        events: Sequence[dict[str, Any]],
        account: str,
        *,
        top: bool = False,
    ) -> list[EventResult]:
        """Send ``events``, halving them while Pinterest refuses the request as too large.

        Halving, not guessing a size: Pinterest publishes no byte limit, so only its
        answer says what fits. A 1000-event request takes at most 10 levels of halves.
        """
        try:
            return self._request(events, account)
        except _TooLarge as exc:
            if len(events) == 1:
                message = (
                    f"the event alone is too large for Pinterest (HTTP 413: {exc}); look for "
                    "an over-long value in it (a long list of contents, a long text)"
                )
                return [EventResult(status="failed", error_message=message)]
            if top:
                logger.warning(
                    "Pinterest refused a request of %d events to ad account %s as too large "
                    "(HTTP 413); sending it in halves until each part fits",
                    len(events),
                    account,
                )
            half = (len(events) + 1) // 2
            return self._fitting(events[:half], account) + self._fitting(events[half:], account)

    def _request(self, events: Sequence[dict[str, Any]], account: str) -> list[EventResult]:
        """Send one request, retrying transient failures; raise :class:`_TooLarge` on a 413."""
        url = self.url(account)
        body = encode_body(events)
        return self._retrying(
            account,
            lambda: self._send_once(url, account, body, len(events)),
            what=f"Pinterest request for ad account {account}",
            later="retry the run later (state was not advanced)",
        )

    def _retrying(
        self,
        pause: str,
        attempt: Callable[[], _T],
        *,
        what: str,
        later: str,
        paced: bool = True,
    ) -> _T:
        """Call ``attempt`` until it returns, retrying its :class:`TransientError`.

        ``pause`` names the limit a 429 holds back (an ad account's events); ``paced``
        passes each try through the test-request bucket, in test mode. ``what`` names
        the request in the retry warnings, ``later`` how to try again once out of tries.
        """
        waits = _wait_times(*self._backoff)
        next(waits)
        tries = 0
        # Another thread's 429 for this account holds this request back too.
        paused = self._pauses.remaining(pause)
        if paused and self._wait(paused):
            raise DeliveryStopped("the run is stopping")
        while True:
            tries += 1
            if paced:
                self._pace()
            try:
                return attempt()
            except TransientError as exc:
                if self._stop.is_set():
                    raise DeliveryStopped(exc.description) from None
                if tries >= self.max_tries:
                    raise RetriesExhausted(
                        f"gave up after {tries} tries: {exc.description}; raise max_tries "
                        f"or {later}",
                    ) from None
                if exc.retry_after is not None and exc.retry_after > self.max_retry_after:
                    raise RetryAfterTooLong(
                        f"Pinterest asked to wait {exc.retry_after:.0f}s before retrying "
                        f"({exc.description}; Retry-After), more than max_retry_after "
                        f"({self.max_retry_after:g}s); {later}",
                    ) from None
                wait = waits.send(exc)
                if exc.rate_limited:
                    # The limit is the account's: every request to it waits as long.
                    wait = self._pauses.extend(pause, wait)
                else:
                    wait = max(wait, self._pauses.remaining(pause))
                logger.warning(
                    "%s failed (%s) on try %d of %d; retrying in %.1fs",
                    what,
                    exc.description,
                    tries,
                    self.max_tries,
                    wait,
                )
                if self._wait(wait):
                    raise DeliveryStopped(exc.description) from None

    def _pace(self) -> None:
        """Wait for the test-request bucket, in test mode; raise if the run stops meanwhile."""
        if self._test_requests is None:
            return
        delay = self._test_requests.reserve()
        if delay > 0 and self._wait(delay):
            raise DeliveryStopped("the run is stopping")

    def abort(self) -> None:
        """Cut every request in flight (the run is stopping after its grace period)."""
        self._stop.set()
        with self._lock:
            flights = list(self._flights)
        for flight in flights:
            flight.abort("the run is stopping")

    def close(self) -> None:
        """Close the HTTP sessions."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        if self._given_session is not None:
            self._given_session.close()

    def _wait(self, seconds: float) -> bool:
        """Wait between tries; return True at once if the run is stopping."""
        return self._stop.wait(seconds)

    def _session(self) -> requests.Session:
        if self._given_session is not None:
            return self._given_session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = _tracked_adapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # Proxies and the CA bundle come from the environment as usual, but are
            # read once here: requests reads them on every request otherwise, about
            # a millisecond of a delivery thread holding the GIL per batch.
            settings = session.merge_environment_settings(self._base, {}, None, None, None)
            # Plain http (loopback only) would hand an HTTP_PROXY the token in clear
            # text: it goes straight to the host. A proxy sees https only as a tunnel.
            if not self._base.lower().startswith("http://"):
                session.proxies.update(settings["proxies"])
            session.verify = settings["verify"]
            session.trust_env = False
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _call(
        self,
        url: str,
        body: bytes | None,
        *,
        method: str = "POST",
        endpoint: str = _ENDPOINT_NAME,
    ) -> Answer:
        """Send one request and read the whole answer within ``timeout`` seconds.

        A watchdog timer shuts the socket when the time is up, so a server that drips
        its headers or body byte by byte cannot hold a delivery thread longer. A POST
        carries events (with ``test=true`` in test mode); a GET reads, with no body.
        """
        flight = _Flight()
        watchdog = threading.Timer(self.timeout, flight.abort, (f"{self.timeout:g}s",))
        watchdog.daemon = True
        with self._lock:
            self._flights.add(flight)
        _ACTIVE.flight = flight
        # One SDK metric point per request: its duration, HTTP status and outcome.
        timer = metrics.Timer(metrics.Metric.HTTP_REQUEST_DURATION, {_ENDPOINT: endpoint})
        answered = (200, 422) if method == "POST" else (200,)
        try:
            if self._stop.is_set():
                raise DeliveryStopped("the run is stopping")
            watchdog.start()
            with timer:
                answer = self._exchange(method, url, body)
                timer.tags[metrics.Tag.HTTP_STATUS_CODE] = answer.status_code
                if answer.status_code not in answered:
                    timer.tags[metrics.Tag.STATUS] = metrics.Status.FAILED
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if flight.cut == "the run is stopping":
                raise DeliveryStopped(flight.cut) from None
            if flight.cut is not None:
                raise TransientError(
                    f"no complete answer within request_timeout ({flight.cut})",
                ) from None
            raise TransientError(_network_problem(exc)) from None
        finally:
            watchdog.cancel()
            _ACTIVE.flight = None
            with self._lock:
                self._flights.discard(flight)
        if flight.cut == "the run is stopping":
            raise DeliveryStopped(flight.cut)
        return answer

    def _exchange(self, method: str, url: str, body: bytes | None) -> Answer:
        posting = method == "POST"
        response = self._session().request(
            method,
            url,
            params=self.params if posting else None,
            data=body,
            headers=self._headers if posting else self._read_headers,
            timeout=self.timeout,
            allow_redirects=False,
            stream=True,
        )
        try:
            content = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True) or b""
        finally:
            response.close()
        if len(content) > MAX_RESPONSE_BYTES:
            raise TransientError(
                f"the answer was larger than {MAX_RESPONSE_BYTES >> 20} MiB "
                f"(HTTP {response.status_code}); not Pinterest's answer",
            )
        return Answer(response.status_code, response.headers, content, response.reason or "")

    def _send_once(self, url: str, account: str, body: bytes, count: int) -> list[EventResult]:
        answer = self._call(url, body)
        status = answer.status_code
        if status == 200:
            return self._accepted(answer, count)
        if status == 422:
            return self._partially_failed(answer, count)
        if 200 <= status < 300:
            return self._unreadable(answer, count, f"HTTP {status} without Pinterest's answer")
        if status == 429 or status >= 500:
            raise TransientError(
                f"HTTP {status} {_message(answer, self._redact)}".strip(),
                retry_after=parse_retry_after(answer.headers.get("Retry-After")),
                rate_limited=status == 429,
            )
        if status == 413:
            raise _TooLarge(_message(answer, self._redact) or "Request Entity Too Large")
        fatal = self._fatal(answer, account)
        if self.account_refusals and status in (403, 404):
            raise AccountRefused(
                account,
                status,
                _refusal(account, status, _message(answer, self._redact)),
                token_proven=self.token_proven,
                fatal=fatal,
            )
        raise fatal

    def _unreadable(self, answer: Answer, count: int, what: str) -> list[EventResult]:
        """A 2xx that is not Pinterest's JSON: each event's fate is unknown.

        Such answers come from a wrong ``api_url`` or a proxy's page, not from
        Pinterest: the events are reported as unknown (dead-lettered, for a later
        replay), and a few in a row stop the run.
        """
        with self._lock:
            self._unreadable_in_a_row += 1
            in_a_row = self._unreadable_in_a_row
        if in_a_row >= UNREADABLE_ANSWERS_LIMIT:
            raise NotPinterest(
                f"{in_a_row} answers in a row from {self.api_url} were not Pinterest's "
                f"({what}): check api_url (and any proxy between here and Pinterest)",
            )
        kind = answer.headers.get("Content-Type", "no content type")
        message = f"delivery unknown: {what} ({kind}); check api_url"
        return [EventResult(status=UNKNOWN_STATUS, error_message=message)] * count

    def _accepted(self, response: Answer, count: int) -> list[EventResult]:
        # A 200 means Pinterest took the request; events it lists no result for are
        # counted as processed (and re-sending them would be deduplicated anyway).
        if _all_processed(response.content, count):
            self._proven.set()
            with self._lock:
                self._unreadable_in_a_row = 0
            return [PROCESSED] * count
        try:
            payload = _json(response)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return self._unreadable(response, count, "HTTP 200 whose body is not Pinterest's JSON")
        self._proven.set()
        with self._lock:
            self._unreadable_in_a_row = 0
        results = _results(payload, count, self._redact) or []
        if len(results) < count:
            logger.warning(
                "Pinterest answered 200 with %d per-event results for %d events; "
                "counting the events without a result as processed",
                len(results),
                count,
            )
            results += [PROCESSED] * (count - len(results))
        return results

    def _partially_failed(self, response: Answer, count: int) -> list[EventResult]:
        try:
            payload = _json(response)
        except ValueError:
            payload = None
        details = payload.get("details") if isinstance(payload, dict) else None
        results = _results(details, count, self._redact)
        if results is not None:
            self._proven.set()  # Pinterest judged the events: it took the token
        if results is None or len(results) < count:
            message = _message(response, self._redact) or "no per-event results"
            known = results or []
            missing = EventResult(status="failed", error_message=f"HTTP 422: {message}")
            return known + [missing] * (count - len(known))
        return results

    def _fatal(self, response: Answer, account: str) -> DeliveryError:
        status = response.status_code
        message = _message(response, self._redact)
        if status == 401:
            return AuthError(
                "the access token was rejected (401): check access_token; it must be a "
                "conversion access token from Ads Manager or an OAuth token with ads:write",
            )
        if status == 403:
            return AuthError(
                f"access to ad account {account} was denied (403): check "
                "ad_account_id and that the token's user has a role on that ad account",
            )
        if status == 404:
            return RequestRejected(
                f"the events endpoint for ad account {account} was not found "
                "(404): check ad_account_id and api_url",
            )
        if 300 <= status < 400:
            return RequestRejected(
                f"the API answered with a redirect ({status}): check api_url; "
                "the token is never sent to another address",
            )
        return RequestRejected(f"Pinterest rejected the request ({status}): {message}")


class DryRunSender:
    """Writes each request as one JSON line and reports every event processed.

    A line is the exact body with the ad account beside it:
    ``{"ad_account_id": "...", "data": [...]}``; without the ``ad_account_id`` key, it is
    what a request to that account would carry.
    """

    def __init__(self, path: str | Path, ad_account_id: str | None = None) -> None:
        self.path = Path(path)
        self.ad_account_id = ad_account_id
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("wb")
        except OSError as exc:
            raise output_file_error("dry_run_path", self.path, exc) from None
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call

    def send(
        self,
        events: Sequence[dict[str, Any]],
        ad_account_id: str | None = None,
    ) -> list[EventResult]:
        """Write the account and the exact body a real request would carry; no network."""
        if not 0 < len(events) <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"a request holds 1 to {MAX_EVENTS_PER_REQUEST} events")
        account = ad_account_id or self.ad_account_id
        if not account:
            raise ValueError("no ad account to send to")
        line = orjson.dumps({"ad_account_id": account, "data": list(events)})
        with self._lock:
            try:
                self._file.write(line + b"\n")
                self._file.flush()
            except OSError as exc:
                raise output_file_error("dry_run_path", self.path, exc) from None
        return [EventResult(status="processed")] * len(events)

    def close(self) -> None:
        """Close the output file."""
        with self._lock:
            self._file.close()
