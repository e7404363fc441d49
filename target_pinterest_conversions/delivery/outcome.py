"""Settle a sent request: delivered events are counted, failed ones dead-lettered.

:func:`settle` reads Pinterest's verdicts; :func:`count_written` counts the events of a
request that was only written to a file (a dry run).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from target_pinterest_conversions.context.summary import LOGGED, RunSummary, message_template
from target_pinterest_conversions.delivery.batch import PendingEvent
from target_pinterest_conversions.delivery.client import PROCESSED, UNKNOWN_STATUS, EventResult
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter

logger = logging.getLogger("target-pinterest-conversions.outcome")

FAILED_STATUSES = frozenset({"failed", UNKNOWN_STATUS})
"""Per-event statuses that fail an event (``unknown``: the answer was not Pinterest's).
Any status but these and ``processed`` is an outcome of its own (:func:`settle`)."""


def settle(
    stream: str,
    ad_account_id: str,
    items: Sequence[PendingEvent],
    results: Sequence[EventResult],
    dead_letters: DeadLetterWriter,
    summary: RunSummary,
) -> int:
    """Record Pinterest's per-event results for one request to one ad account.

    Returns how many events were processed; the stream's and the account's counters
    both take the outcome.

    Results are matched to events by position, as Pinterest returns them in request
    order. A failed event goes to the dead-letter output with Pinterest's exact
    ``error_message`` (redacted by the client); the summary counts messages by
    :func:`message_template`. The first occurrence of each of the first
    :data:`LOGGED` kinds of warning per stream is logged, then one line says the rest
    are only counted: messages that embed ids or values would otherwise log a line
    per event.

    A status Pinterest may add beside ``processed`` and ``failed`` is neither: the
    event is counted under its status (``pinterest_statuses``), warned about once per
    status, and not dead-lettered, since Pinterest did not refuse it.
    """
    count = len(items)
    if len(results) == count and results.count(PROCESSED) == count:
        # The usual answer, every event processed, recognised in one pass in C: the
        # loop of _verdicts runs Python steps per event in a delivery thread.
        processed, failed = count, 0
    else:
        processed, failed = _verdicts(stream, ad_account_id, items, results, dead_letters, summary)
    summary.update(stream, events_sent=count, processed=processed, failed_at_pinterest=failed)
    summary.update_account(
        ad_account_id, events_sent=count, processed=processed, failed_at_pinterest=failed
    )
    return processed


def _verdicts(
    stream: str,
    ad_account_id: str,
    items: Sequence[PendingEvent],
    results: Sequence[EventResult],
    dead_letters: DeadLetterWriter,
    summary: RunSummary,
) -> tuple[int, int]:
    """:func:`settle`'s events one by one: return how many were processed and failed."""
    processed = 0
    failed = 0
    for item, result in zip(items, results, strict=True):
        if result is PROCESSED:
            processed += 1
            continue
        if result.warning_message:
            _warn(stream, result.warning_message, summary)
        if result.processed:
            processed += 1
            continue
        if result.status not in FAILED_STATUSES:
            _other_status(stream, result.status, summary)
            continue
        failed += 1
        reason = f"Pinterest: {result.error_message or 'failed without a message'}"
        summary.count(stream, "reasons", message_template(reason))
        dead_letters.write(
            stream=stream,
            ad_account_id=ad_account_id,
            key=item.key,
            reason=reason,
            stage="pinterest",
            event=item.event,
        )
    return processed, failed


def count_written(
    stream: str,
    ad_account_id: str,
    items: Sequence[PendingEvent],
    summary: RunSummary,
) -> int:
    """Count a request's events as written to a file, not sent: nothing is Pinterest's."""
    summary.update(stream, events_written=len(items))
    summary.update_account(ad_account_id, events_written=len(items))
    return len(items)


def _other_status(stream: str, status: str, summary: RunSummary) -> None:
    """Count an event Pinterest gave a status other than processed or failed."""
    status = message_template(status)[:100]
    if summary.count(stream, "pinterest_statuses", status):
        logger.warning(
            "Pinterest answered status '%s' for events of stream '%s': neither processed "
            "nor failed, so they are counted under it (summary: pinterest_statuses) and "
            "not dead-lettered",
            status,
            stream,
        )


def _warn(stream: str, message: str, summary: RunSummary) -> None:
    """Count a Pinterest warning; log it if it is one of the first kinds seen."""
    if not summary.count(stream, "pinterest_warnings", message_template(message)):
        return
    kinds = summary.distinct(stream, "pinterest_warnings")
    if kinds <= LOGGED:
        logger.warning("Pinterest warning for stream '%s': %s", stream, message)
    elif kinds == LOGGED + 1:
        logger.warning(
            "Pinterest warnings for stream '%s': more than %d kinds; the others are "
            "counted in the summary, not logged one by one",
            stream,
            LOGGED,
        )
