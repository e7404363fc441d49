"""HTTP delivery to ``POST {api_url}/v5/ad_accounts/{ad_account_id}/events``.

:class:`PinterestClient` sends one request of up to 1000 events on a keep-alive
session, retries transient failures (429, 5xx, connection errors, timeouts) with
exponential backoff and full jitter, honours ``Retry-After``, and returns one
:class:`EventResult` per event read from the 200 body (``events``) or the 422 body
(``details.events``). Errors that a retry cannot fix raise a :class:`DeliveryError`
whose message says what to change. :class:`DryRunSender` has the same interface and
writes the exact request bodies to a file instead of the network.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import backoff
import orjson
import requests
from singer_sdk import metrics

logger = logging.getLogger("target-pinterest-conversions.client")

MAX_EVENTS_PER_REQUEST = 1000
DEFAULT_API_URL = "https://api.pinterest.com"
_MAX_RETRY_AFTER_SECONDS = 3600.0
_MAX_MESSAGE_CHARS = 500
_ENDPOINT = metrics.Tag.ENDPOINT
_ENDPOINT_NAME = "/v5/ad_accounts/{ad_account_id}/events"


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


def _json(response: requests.Response) -> Any:
    """Decode a response body; raise ``ValueError`` when it is not JSON."""
    return orjson.loads(response.content)


class DeliveryError(RuntimeError):
    """A request failed in a way retrying cannot fix; the message says what to do."""


class AuthError(DeliveryError):
    """Pinterest refused the token or the ad account (401 or 403)."""


class RequestRejected(DeliveryError):
    """Pinterest refused the request itself (400, 404 or another 4xx)."""


class RetriesExhausted(DeliveryError):
    """A transient failure persisted through every allowed try."""


class TransientError(Exception):
    """A failure worth retrying; ``retry_after`` is the server's wait in seconds."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


class Sender(Protocol):
    """Anything that delivers a batch of events and reports per-event results."""

    dry_run: bool
    """True when events only go to a file: its results are not Pinterest's verdicts."""

    def send(self, events: Sequence[dict[str, Any]]) -> list[EventResult]:
        """Deliver ``events`` (at most 1000) and return one result per event, in order."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


def encode_body(events: Sequence[dict[str, Any]]) -> bytes:
    """Encode the request body ``{"data": [...]}`` as compact JSON."""
    return orjson.dumps({"data": list(events)})


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Read ``Retry-After`` as delta-seconds or an HTTP date; ``None`` when absent or bad."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)


def _wait_times(
    base: float,
    cap: float,
) -> Generator[float, TransientError | None, None]:
    """Yield waits: the server's ``Retry-After`` when given, else capped full-jitter expo.

    backoff sends each caught exception into this generator, which is how the wait can
    depend on the response.
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


def _results(payload: Any, count: int) -> list[EventResult] | None:
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
                error_message=str(item.get("error_message") or ""),
                warning_message=str(item.get("warning_message") or ""),
            ),
        )
    return out


def _message(response: requests.Response) -> str:
    try:
        payload = _json(response)
    except ValueError:
        return response.reason or ""
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])[:_MAX_MESSAGE_CHARS]
    return response.reason or ""


class PinterestClient:
    """Sends batches of events to Pinterest's Conversions API."""

    dry_run = False

    def __init__(
        self,
        *,
        ad_account_id: str,
        access_token: str,
        api_url: str = DEFAULT_API_URL,
        test_mode: bool = False,
        max_tries: int = 8,
        timeout: float = 60.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        session: requests.Session | None = None,
        user_agent: str = "target-pinterest-conversions",
    ) -> None:
        self.ad_account_id = ad_account_id
        self.url = f"{api_url.rstrip('/')}/v5/ad_accounts/{ad_account_id}/events"
        self.params = {"test": "true"} if test_mode else {}
        self.max_tries = max_tries
        self.timeout = timeout
        # One keep-alive session per delivery thread (requests' Session is not
        # documented as thread-safe), or the one given, for tests.
        self._given_session = session
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        self._send_with_retries = backoff.on_exception(
            _wait_times,
            TransientError,
            max_tries=max_tries,
            jitter=None,
            on_backoff=self._log_backoff,
            on_giveup=self._raise_exhausted,
            logger=None,
            base=backoff_base,
            cap=backoff_max,
        )(self._send_once)

    def send(self, events: Sequence[dict[str, Any]]) -> list[EventResult]:
        """Send up to 1000 events and return Pinterest's result for each, in order.

        Raises:
            AuthError: the token or the ad account was refused (401, 403).
            RequestRejected: the request was refused as a whole (400, 404, other 4xx).
            RetriesExhausted: 429, 5xx or network failures outlasted ``max_tries``.

        """
        if not 0 < len(events) <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"a request holds 1 to {MAX_EVENTS_PER_REQUEST} events")
        body = encode_body(events)
        return self._send_with_retries(body, len(events))  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the HTTP sessions."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        if self._given_session is not None:
            self._given_session.close()

    def _session(self) -> requests.Session:
        if self._given_session is not None:
            return self._given_session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Proxies and the CA bundle come from the environment as usual, but are
            # read once here: requests reads them on every request otherwise, about
            # a millisecond of a delivery thread holding the GIL per batch.
            settings = session.merge_environment_settings(self.url, {}, None, None, None)
            session.proxies.update(settings["proxies"])
            session.verify = settings["verify"]
            session.trust_env = False
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _post(self, body: bytes) -> requests.Response:
        # One SDK metric point per request: its duration, HTTP status and outcome.
        timer = metrics.Timer(metrics.Metric.HTTP_REQUEST_DURATION, {_ENDPOINT: _ENDPOINT_NAME})
        try:
            with timer:
                response = self._session().post(
                    self.url,
                    params=self.params,
                    data=body,
                    headers=self._headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
                timer.tags[metrics.Tag.HTTP_STATUS_CODE] = response.status_code
                if response.status_code not in (200, 422):
                    timer.tags[metrics.Tag.STATUS] = metrics.Status.FAILED
        except requests.Timeout:
            raise TransientError("the request timed out") from None
        except requests.ConnectionError as exc:
            raise TransientError(f"connection failed ({type(exc).__name__})") from None
        except requests.exceptions.ChunkedEncodingError:
            raise TransientError("the response was cut off") from None
        return response

    def _send_once(self, body: bytes, count: int) -> list[EventResult]:
        response = self._post(body)
        status = response.status_code
        if status == 200:
            return self._accepted(response, count)
        if status == 422:
            return self._partially_failed(response, count)
        if status == 429 or status >= 500:
            raise TransientError(
                f"HTTP {status} {_message(response)}".strip(),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise self._fatal(response)

    def _accepted(self, response: requests.Response, count: int) -> list[EventResult]:
        # A 200 means Pinterest took the request; events it lists no result for are
        # counted as processed (and re-sending them would be deduplicated anyway).
        try:
            results = _results(_json(response), count) or []
        except ValueError:
            results = []
        if len(results) < count:
            logger.warning(
                "Pinterest answered 200 with %d per-event results for %d events; "
                "counting the events without a result as processed",
                len(results),
                count,
            )
            results += [PROCESSED] * (count - len(results))
        return results

    def _partially_failed(self, response: requests.Response, count: int) -> list[EventResult]:
        try:
            payload = _json(response)
        except ValueError:
            payload = None
        details = payload.get("details") if isinstance(payload, dict) else None
        results = _results(details, count)
        if results is None or len(results) < count:
            message = _message(response) or "no per-event results"
            known = results or []
            missing = EventResult(status="failed", error_message=f"HTTP 422: {message}")
            return known + [missing] * (count - len(known))
        return results

    def _fatal(self, response: requests.Response) -> DeliveryError:
        status = response.status_code
        message = _message(response)
        if status == 401:
            return AuthError(
                "the access token was rejected (401): check access_token; it must be a "
                "conversion access token from Ads Manager or an OAuth token with ads:write",
            )
        if status == 403:
            return AuthError(
                f"access to ad account {self.ad_account_id} was denied (403): check "
                "ad_account_id and that the token's user has a role on that ad account",
            )
        if status == 404:
            return RequestRejected(
                f"the events endpoint for ad account {self.ad_account_id} was not found "
                "(404): check ad_account_id and api_url",
            )
        if 300 <= status < 400:
            return RequestRejected(
                f"the API answered with a redirect ({status}): check api_url; "
                "the token is never sent to another address",
            )
        return RequestRejected(f"Pinterest rejected the request ({status}): {message}")

    def _log_backoff(self, details: Any) -> None:
        exc = details.get("exception")
        logger.warning(
            "Pinterest request failed (%s) on try %d of %d; retrying in %.1fs",
            getattr(exc, "description", type(exc).__name__),
            details["tries"],
            self.max_tries,
            details["wait"],
        )

    def _raise_exhausted(self, details: Any) -> None:
        exc = details.get("exception")
        raise RetriesExhausted(
            f"gave up after {details['tries']} tries: "
            f"{getattr(exc, 'description', type(exc).__name__)}; "
            "raise max_tries or retry the run later (state was not advanced)",
        ) from None


class DryRunSender:
    """Writes each request body as one JSON line and reports every event processed."""

    dry_run = True

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        self._lock = threading.RLock()  # re-entrant: a termination signal may drain mid-call

    def send(self, events: Sequence[dict[str, Any]]) -> list[EventResult]:
        """Write the exact body a real request would carry; no network is used."""
        if not 0 < len(events) <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"a request holds 1 to {MAX_EVENTS_PER_REQUEST} events")
        with self._lock:
            self._file.write(encode_body(events) + b"\n")
            self._file.flush()
        return [EventResult(status="processed")] * len(events)

    def close(self) -> None:
        """Close the output file."""
        with self._lock:
            self._file.close()
