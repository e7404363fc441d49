"""Ad accounts Pinterest refuses (403, 404), told apart from a token it refuses.

A 403 or 404 names one ad account, but a bad token can look the same, so a refusal counts
against the account only once the token is *known good*, from the first of:

- a request of this run had Pinterest's answer (200 or 422) for any ad account;
- after the refusal, a test event (``test=true``, as ``--check`` sends) to another ad
  account had Pinterest's answer. The accounts tried, at most :data:`PROBED_ACCOUNTS`,
  are those known before the input (top-level and streams' constant ones), then those
  the run has been given events for, never one already refused.

Until then the refusal stops the run as before (403: exit 3, 404: exit 4), and nothing is
dead-lettered: a bad token must not dead-letter every event. Once the token is known good,
the refused request's events are dead-lettered with Pinterest's (redacted) message and
what to fix, the account is remembered for the rest of the run, and its later events are
dead-lettered without a request; the other accounts go on, and STATE moves past them all
because dead-lettered is an outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence

from target_pinterest_conversions.context.redaction import scrub
from target_pinterest_conversions.context.summary import RunSummary, message_template
from target_pinterest_conversions.delivery.batch import PendingEvent
from target_pinterest_conversions.delivery.client import AccountRefused
from target_pinterest_conversions.delivery.deadletter import DeadLetterWriter

logger = logging.getLogger("target-pinterest-conversions.delivery")

PROBED_ACCOUNTS = 3
"""Other ad accounts a test event may be sent to, in turn, to prove the token."""

TokenProbe = Callable[[Sequence[str]], "str | None"]
"""Sends a test event to each account in turn; returns the first that took the token."""


class AccountRefusals:
    """The run's refused ad accounts and whether its token is known good; thread-safe."""

    def __init__(
        self,
        *,
        dead_letters: DeadLetterWriter,
        summary: RunSummary,
        known_accounts: Sequence[str] = (),
        probe: TokenProbe | None = None,
    ) -> None:
        self._dead_letters = dead_letters
        self._summary = summary
        self._known = list(known_accounts)
        self._probe = probe
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()  # one test event at a time, whatever the threads
        self._probed = False
        self._token_good = threading.Event()
        self._seen: dict[str, None] = {}  # accounts given events, in order (an ordered set)
        self._refused: dict[str, str] = {}  # account: the reason its events are dead-lettered

    def saw(self, accounts: Iterable[str]) -> None:
        """Note the accounts a batch goes to: candidates for a test event."""
        with self._lock:
            self._seen.update(dict.fromkeys(accounts))

    def reason(self, account: str) -> str | None:
        """Why ``account``'s events are dead-lettered, if it was refused in this run."""
        with self._lock:
            return self._refused.get(account)

    def refuse(self, exc: AccountRefused) -> str:
        """Remember the refused account and return the reason to dead-letter its events with.

        Raises:
            DeliveryError: the token is not known good (``exc.fatal``, as before).

        """
        if not (exc.token_proven or self._token_good.is_set() or self._prove(exc.account)):
            raise exc.fatal from None
        self._token_good.set()
        reason = scrub(exc.reason)  # the log gets it too: no personal data, however unlikely
        with self._lock:
            first = exc.account not in self._refused
            reason = self._refused.setdefault(exc.account, reason)
        if first:
            self._summary.refuse_account(exc.account, exc.status, reason)
            logger.warning(
                "Ad account %s refused: %s. Its events are dead-lettered for the rest of "
                "the run, without further requests; the other ad accounts go on",
                exc.account,
                reason,
            )
        return reason

    def dead_letter(
        self,
        stream: str,
        account: str,
        items: Sequence[PendingEvent],
        reason: str,
        *,
        sent: bool,
    ) -> None:
        """Dead-letter a refused account's events; ``sent`` if they were in the refused request.

        Sent events count as failed at Pinterest (stage ``pinterest``), the later ones as
        dead-lettered here (stage ``target``): they were never sent.
        """
        if not items:
            return
        if not sent:
            reason = f"not sent: {reason}; the account was refused earlier in this run"
        self._summary.count(stream, "reasons", message_template(reason), len(items))
        for item in items:
            self._dead_letters.write(
                stream=stream,
                ad_account_id=account,
                key=item.key,
                reason=reason,
                stage="pinterest" if sent else "target",
                event=item.event,
            )
        count = len(items)
        if sent:
            self._summary.update(stream, events_sent=count, failed_at_pinterest=count)
            self._summary.update_account(account, events_sent=count, failed_at_pinterest=count)
        else:
            self._summary.update(stream, dead_lettered_locally=count)
            self._summary.update_account(account, dead_lettered_locally=count)
        self._summary.count_refused(account, count)

    def _prove(self, refused: str) -> bool:
        """Send a test event to other accounts, once per run; tell whether one took the token."""
        if self._probe is None:
            return False
        with self._probe_lock:
            if self._token_good.is_set():
                return True
            if self._probed:
                return False  # tried already: the run is stopping on the first refusal
            self._probed = True
            with self._lock:
                others = [
                    a
                    for a in dict.fromkeys([*self._known, *self._seen])
                    if a != refused and a not in self._refused
                ][:PROBED_ACCOUNTS]
            if not others:
                return False
            logger.info(
                "Ad account %s was refused before any request with this token succeeded; "
                "sending a test event (test=true) to ad account %s to tell a refused "
                "account from a refused token",
                refused,
                " or ".join(others),
            )
            vouching = self._probe(others)
            if vouching is None:
                logger.warning(
                    "The test event was refused too (ad account %s): the token, not one "
                    "ad account, is what Pinterest refuses",
                    " and ".join(others),
                )
                return False
            logger.info("The token works for ad account %s", vouching)
            self._token_good.set()
            return True
