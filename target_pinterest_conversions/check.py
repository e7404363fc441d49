"""The connection check: one synthetic event sent with ``?test=true``.

Pinterest validates a test request exactly like a real one (token, ad account, event)
and records nothing, so one such request proves that a run would be accepted. One is
sent to each ad account known before the input: the top-level ``ad_account_id`` and each
stream's constant one; accounts that streams read from their records cannot be known
before the records, and are said not to be checked.
``target-pinterest-conversions --check`` runs it, and so does ``meltano config test``,
which sends the loader a stream named :data:`MELTANO_TEST_STREAM`. A run sends the same
test event (:func:`token_accepted`) to tell an ad account Pinterest refuses from a token
it refuses (delivery/refusals.py).

Once the test events are accepted, the check reads each account's advertiser-defined
events (custom events registered in Ads Manager) and names them, then warns about each
configured event name that is neither Pinterest's nor registered there: Pinterest does not
track such events. A failure to read the list is a warning, never the check's verdict.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from target_pinterest_conversions.conversion.checks import validate_event
from target_pinterest_conversions.conversion.hashing import hash_value
from target_pinterest_conversions.delivery.client import (
    UNKNOWN_STATUS,
    DefinedEvents,
    PinterestClient,
    RetriesExhausted,
    RetryAfterTooLong,
)
from target_pinterest_conversions.delivery.outputs import output_kind
from target_pinterest_conversions.errors import ConfigError, DeliveryError
from target_pinterest_conversions.mapping.spec import StreamMapping
from target_pinterest_conversions.pinterest.vocabulary import name_key
from target_pinterest_conversions.settings import Settings

logger = logging.getLogger("target-pinterest-conversions.check")

MELTANO_TEST_STREAM = "meltano_test_stream"
"""The stream ``meltano config test`` sends to a loader (Meltano 4.4)."""

CHECK_TRIES = 3
"""Tries for the check's one request: enough to ride out a blip, short enough to answer."""

NAMES_SHOWN = 50
"""Advertiser-defined event names a log line lists before ``and N more``."""


class CheckFailed(DeliveryError):
    """Pinterest was reached and the token accepted, but it refused the test event."""


class NothingChecked(ConfigError):
    """A live run's check knows no ad account to send to: it could prove nothing.

    A dry run or the CSV output passes its check without a request, saying so: such a
    run sends nothing either. A live run would otherwise pass a check that proved nothing.
    """


def synthetic_event(now: int, partner_name: str | None = None) -> dict[str, object]:
    """Return a valid ``page_visit`` event with no real person behind it.

    Its match keys are the hash of an address at example.com (a reserved domain) and an
    IP address from TEST-NET-3; its id is unique so that no real event is deduplicated.
    """
    event: dict[str, object] = {
        "event_name": "page_visit",
        "action_source": "web",
        "event_time": now,
        "event_id": f"target-pinterest-conversions-check-{uuid.uuid4()}",
        "user_data": {
            "em": [hash_value("em", "connection-check@example.com")],
            "client_ip_address": "203.0.113.10",
            "client_user_agent": "target-pinterest-conversions connection check",
        },
    }
    if partner_name:
        event["partner_name"] = partner_name
    problems = validate_event(event, now)
    if problems:  # the event is ours: a failure here is a bug, not a user error
        raise AssertionError("; ".join(problems))
    return event


def check_connection(
    settings: Settings,
    *,
    now: int,
    user_agent: str,
    stop: threading.Event | None = None,
) -> str:
    """Send one test event to each known ad account with the run's token; say what was proven.

    The accounts are checked in turn, and the first refusal ends the check. Waits
    between tries honour ``max_retry_after`` and end at once when ``stop`` is set. Then
    each account's advertiser-defined events are read and logged, and configured names
    neither Pinterest's nor registered are warned about; those reads decide nothing.

    Raises:
        AuthError: the token or an ad account was refused (401, 403).
        RequestRejected: the request was refused (400, 404 or another 4xx).
        CheckFailed: the test event itself was refused (422).
        NothingChecked: the run sends to Pinterest, but no ad account is known before
            the input.
        DeliveryError: Pinterest could not be reached within the tries allowed, or asked
            to wait longer than ``max_retry_after``.
        DeliveryStopped: ``stop`` was set.

    """
    host = urlsplit(settings.api_url).netloc or settings.api_url
    kind = output_kind(settings.output, dry_run=settings.dry_run)
    if not kind.contacts_pinterest:
        return kind.nothing_sent
    accounts = settings.check_accounts
    from_records = settings.streams_with_account_field
    unchecked = (
        f"; the ad accounts that streams {', '.join(from_records)} read from their records "
        "are known only from the input, and were not checked"
        if from_records
        else ""
    )
    if not accounts:
        raise NothingChecked(
            "nothing was checked: no ad account is known before the input, so Pinterest "
            f"was not contacted{unchecked}. Set a top-level ad_account_id (the account of "
            "streams without their own) to check the token",
        )
    # One client: its bucket keeps the test requests within Pinterest's 10 a second.
    client = check_client(settings, user_agent=user_agent, stop=stop)
    try:
        for account in accounts:
            event = synthetic_event(now, settings.partner_name)
            try:
                result = client.send([event], account)[0]
            except RetryAfterTooLong:
                raise DeliveryError(
                    f"Pinterest at {host} is limiting requests and asked to wait longer "
                    f"than max_retry_after ({settings.max_retry_after:g}s) before the test "
                    "request: the token and ad account were not checked; run the check "
                    "again later",
                ) from None
            except RetriesExhausted as exc:
                raise DeliveryError(
                    f"network: could not reach Pinterest at {host}: {exc}"
                ) from None
            if not result.processed:
                which = f" for ad account {account}" if len(accounts) > 1 else ""
                raise CheckFailed(
                    f"Pinterest accepted the token but refused the test event{which}: "
                    f"{result.error_message or 'no reason given'}",
                )
        defined = {
            account: _defined_events(client, account, custom_names_to(settings, account))
            for account in accounts
        }
    finally:
        client.close()
    _warn_of_untracked_names(settings, defined)
    which = (
        f"ad account {accounts[0]}"
        if len(accounts) == 1
        else f"each of ad accounts {', '.join(accounts)}"
    )
    return (
        f"Connection check passed: {host} accepted a test event for {which} with this "
        f"access token (sent with test=true: validated, not recorded){unchecked}"
    )


def stream_account(settings: Settings, mapping: StreamMapping) -> str | None:
    """The ad account a stream sends to, or ``None`` when its records name it."""
    source = mapping.ad_account_id
    if source is None:
        return settings.ad_account_id
    return str(source.const) if source.is_const else None


def custom_names(settings: Settings, mapping: StreamMapping) -> tuple[str, ...]:
    """The stream's configured event names that are not Pinterest's (constants, map targets)."""
    rule = mapping.event_name_rule
    named = [mapping.event_name, *((rule.const, *rule.table.values()) if rule else ())]
    return tuple(dict.fromkeys(n for n in named if n in settings.unlisted_event_names))


def sends_names_as_is(mapping: StreamMapping) -> bool:
    """Tell whether the stream sends event names read from its records unchanged."""
    rule = mapping.event_name_rule
    return rule is not None and rule.source is not None and rule.fallback == "as_is"


def custom_names_to(settings: Settings, account: str) -> bool:
    """Tell whether a stream sending to ``account`` may send names that are not Pinterest's."""
    return any(
        stream_account(settings, mapping) == account
        and (custom_names(settings, mapping) or sends_names_as_is(mapping))
        for mapping in settings.streams.values()
    )


def listed(names: Sequence[str], limit: int = NAMES_SHOWN) -> str:
    """Names quoted, at most ``limit`` of them, then ``and N more``."""
    shown = ", ".join(repr(name) for name in names[:limit])
    more = len(names) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def _defined_events(
    client: PinterestClient,
    account: str,
    relevant: bool,
) -> DefinedEvents | None:
    """Read and log an account's advertiser-defined events; ``None`` when they cannot be read.

    The names are the advertiser's configuration, not personal data: they are logged. A
    failure is logged too, as a warning when a stream may send custom names there, and
    never fails the check: the test event has proven what a run needs.
    """
    try:
        found = client.advertiser_defined_events(account)
    except DeliveryError as exc:
        if relevant:
            logger.warning(
                "Could not read the advertiser-defined events of ad account %s, so the custom "
                "event names sent there were not checked against them: %s. Fix that and run "
                "the check again, or compare them with the account's custom events in Ads "
                "Manager yourself",
                account,
                exc,
            )
        else:
            logger.info(
                "Could not read the advertiser-defined events of ad account %s (no stream "
                "sends it event names that are not Pinterest's, so nothing depends on them): %s",
                account,
                exc,
            )
        return None
    names = found.names
    unnamed = f" ({found.unnamed} listed without a name were left out)" if found.unnamed else ""
    if names:
        logger.info(
            "Ad account %s has %d advertiser-defined event%s: %s%s",
            account,
            len(names),
            "" if len(names) == 1 else "s",
            listed(names),
            unnamed,
        )
    else:
        logger.info("Ad account %s has no advertiser-defined events%s", account, unnamed)
    return found


def _warn_of_untracked_names(
    settings: Settings,
    defined: Mapping[str, DefinedEvents | None],
) -> None:
    """Warn about configured names Pinterest does not track; say what ``as_is`` requires."""
    for stream, mapping in settings.streams.items():
        names = custom_names(settings, mapping)
        as_is = sends_names_as_is(mapping)
        if not names and not as_is:
            continue
        account = stream_account(settings, mapping)
        if account is None:
            logger.info(
                "streams.%s sends event names that are not Pinterest's (%s) to the ad accounts "
                "its records name: Pinterest tracks such a name only where it is registered as "
                "an advertiser-defined event; not checked, those accounts being known only from "
                "the input",
                stream,
                ", ".join(
                    [
                        *([listed(names)] if names else []),
                        *(["names read from its records"] if as_is else []),
                    ]
                ),
            )
            continue
        found = defined.get(account)
        if found is None:
            continue  # unread: already warned about, naming the account
        registered = set(found.names)
        for name in names:
            if name in registered:
                continue
            alike = [n for n in found.names if name_key(n) == name_key(name)]
            hint = (
                f"; it registers {alike[0]!r}, which differs in case or separators" if alike else ""
            )
            logger.warning(
                "streams.%s: event name %r is neither a Pinterest event name nor an "
                "advertiser-defined event of ad account %s, so Pinterest does not track it%s: "
                "register it as a custom event in Ads Manager, or map it to a Pinterest event "
                "name",
                stream,
                name,
                account,
                hint,
            )
        if as_is:
            logger.info(
                "streams.%s sends event names read from its records as they are "
                "(event_name_fallback: as_is): each must be a Pinterest event name or an "
                "advertiser-defined event of ad account %s, or Pinterest does not track it; "
                "registered there: %s",
                stream,
                account,
                listed(found.names) if found.names else "none",
            )


def check_client(
    settings: Settings,
    *,
    user_agent: str,
    stop: threading.Event | None = None,
) -> PinterestClient:
    """The client of test events (``test=true``): few tries, the run's Retry-After bound."""
    return PinterestClient(
        access_token=settings.access_token or "",
        api_url=settings.api_url,
        test_mode=True,
        max_tries=min(settings.max_tries, CHECK_TRIES),
        timeout=settings.request_timeout,
        max_retry_after=settings.max_retry_after,
        user_agent=user_agent,
        stop=stop,
    )


def token_accepted(
    settings: Settings,
    accounts: Sequence[str],
    *,
    user_agent: str,
    stop: threading.Event | None = None,
) -> str | None:
    """Send one test event to each ad account in turn; return the first that took the token.

    Taking the token means Pinterest answered with its verdict on the event (200 or 422),
    whatever the verdict; a refusal or a failure to reach it tries the next account.
    """
    client = check_client(settings, user_agent=user_agent, stop=stop)
    try:
        for account in accounts:
            event = synthetic_event(int(time.time()), settings.partner_name)
            try:
                result = client.send([event], account)[0]
            except DeliveryError:
                continue
            if result.status != UNKNOWN_STATUS:
                return account
    finally:
        client.close()
    return None
