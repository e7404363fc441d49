"""Pinterest's own Event Quality Score, read back beside the last run's signal counts.

``target-pinterest-conversions --quality`` reads ``GET .../conversion_eqs`` (lookback
:data:`LOOKBACK`) for each ad account known before the input (as ``--check`` does) with
the run's token, and logs, for each score Pinterest gives (a source platform and ingestion
source), its ``overall_status`` and, per event type, each component's coverage beside the
share the last run counted (the summary file's ``streams.<s>.signal_quality``). A
component whose two figures differ by more than :data:`DIFFERENCE` is flagged.

The names line up: the run's signals are named as Pinterest's ``quality_components``
(``hashed_phone`` has none: it is shown locally only). Pinterest's event types are matched
to Pinterest's event names ignoring case and separators (``CHECKOUT``, ``PageVisit``,
``add_to_cart``); the spec names no event types, so a type that matches none is said so
and shown alone. Pinterest gives coverage as a percentage (0 to 100, "Coverage percentage"
in the spec); it is shown as a share (0 to 1), as the summary's.

Everything goes to the log (stderr): stdout stays for STATE messages.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from target_pinterest_conversions.check import stream_account
from target_pinterest_conversions.delivery.client import (
    PinterestClient,
    QualityScore,
    RetriesExhausted,
)
from target_pinterest_conversions.errors import ConfigError, DeliveryError
from target_pinterest_conversions.pinterest.signals import SIGNALS
from target_pinterest_conversions.pinterest.vocabulary import PINTEREST_EVENT_NAMES
from target_pinterest_conversions.settings import Settings

logger = logging.getLogger("target-pinterest-conversions.quality")

LOOKBACK = "14d"
"""The window Pinterest scores (the spec allows ``1d`` and ``14d``)."""

DIFFERENCE = 0.1
"""Local and Pinterest shares further apart than this are flagged."""

QUALITY_TRIES = 3
"""Tries for each read: enough to ride out a blip, short enough to answer."""

NOT_SCORED = "hashed_phone"
"""The one signal counted locally that Pinterest's score has no component for."""


def type_key(name: str) -> str:
    """The key an event type or name is matched by: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


_EVENT_NAMES_BY_KEY = {type_key(name): name for name in PINTEREST_EVENT_NAMES}


def event_name_of(event_type: str) -> str | None:
    """The Pinterest event name a score's event type stands for, or ``None``."""
    return _EVENT_NAMES_BY_KEY.get(type_key(event_type))


@dataclass(frozen=True)
class Local:
    """The last run's figures of one event name: events counted and each signal's share."""

    events: int
    shares: dict[str, float]


@dataclass(frozen=True)
class LastRun:
    """What the summary file says, for one ad account: figures per event name."""

    path: str
    figures: dict[str, Local]
    note: str


def load_summary(settings: Settings) -> dict[str, Any] | None:
    """The last run's summary, or ``None`` (said why in the log)."""
    path = settings.summary_path
    if not path:
        logger.warning(
            "summary_path is not set, so there are no local figures: Pinterest's are shown "
            "alone. Set summary_path and run once to see the last run's beside them",
        )
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        logger.warning(
            "summary_path %s: no such file (no run wrote it yet), so there are no local "
            "figures: Pinterest's are shown alone",
            path,
        )
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not a JSON summary"
        logger.warning(
            "summary_path %s: cannot be read (%s), so there are no local figures: "
            "Pinterest's are shown alone",
            path,
            why,
        )
        return None
    if not isinstance(data, dict) or not isinstance(data.get("streams"), dict):
        logger.warning(
            "summary_path %s: not a run summary (no streams), so there are no local figures: "
            "Pinterest's are shown alone",
            path,
        )
        return None
    return data


def last_run(settings: Settings, summary: Mapping[str, Any], account: str) -> LastRun:
    """The summary's signal shares of the streams sending to ``account``, per event name.

    Streams that read their ad account from records may have sent to any account: they
    are counted for each. A name counted in several streams is weighted by their events.
    """
    path = str(settings.summary_path)
    totals: dict[str, tuple[int, dict[str, float]]] = {}
    from_records = []
    for stream, stats in sorted(summary["streams"].items()):
        mapping = settings.streams.get(stream)
        sends_to = stream_account(settings, mapping) if mapping else None
        if mapping is not None and sends_to is None:
            from_records.append(stream)
        elif sends_to != account:
            continue
        quality = stats.get("signal_quality") if isinstance(stats, dict) else None
        for name, row in (quality or {}).items():
            events = row.get("events") if isinstance(row, dict) else None
            if not isinstance(events, int) or events <= 0:
                continue
            count, weighted = totals.get(name, (0, {}))
            for signal in SIGNALS:
                share = row.get(signal)
                if isinstance(share, (int, float)):
                    weighted[signal] = weighted.get(signal, 0.0) + share * events
            totals[name] = (count + events, weighted)
    figures = {
        name: Local(count, {s: v / count for s, v in weighted.items()})
        for name, (count, weighted) in totals.items()
    }
    notes = []
    if summary.get("status") != "succeeded":
        notes.append(f"that run's status: {summary.get('status')}")
    if summary.get("dry_run"):
        notes.append("a dry run: counted from the events written, not sent")
    if from_records:
        notes.append(
            f"streams {', '.join(from_records)} read their ad account from records: "
            "counted for every account",
        )
    return LastRun(path, figures, "; ".join(notes))


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(
    score: QualityScore,
    event_type: str,
    local: Local | None,
) -> tuple[list[str], list[tuple[str, float, float]]]:
    """The rows of one event type, and the components whose figures differ."""
    rows = [f"    {'signal':<24}{'Pinterest':>10}{'local':>8}"]
    differing = []
    components = [c for c in SIGNALS if c != NOT_SCORED or local is not None]
    components += sorted(c for c in score.components if c not in SIGNALS)
    for component in components:
        by_type = score.components.get(component, {})
        theirs = by_type.get(event_type)
        pinterest = None if theirs is None else theirs / 100
        ours = local.shares.get(component) if local is not None else None
        if pinterest is None and ours is None:
            continue
        row = f"    {component:<24}{_share(pinterest):>10}{_share(ours):>8}"
        if component == NOT_SCORED:
            row += "  (Pinterest scores no phone component)"
        elif component not in SIGNALS:
            row += "  (not counted by runs)"
        elif pinterest is not None and ours is not None and abs(pinterest - ours) > DIFFERENCE:
            row += f"  differs: local {ours:.2f}, Pinterest {pinterest:.2f}"
            differing.append((component, ours, pinterest))
        issues = score.issues.get((component, event_type))
        if issues:
            row += f"  issues: {'; '.join(issues)}"
        rows.append(row)
    return rows, differing


def log_score(account: str, score: QualityScore, run: LastRun | None) -> int:
    """Log one score beside the last run's figures; return the components flagged."""
    lookback = score.lookback_period or LOOKBACK
    logger.info(
        "Pinterest's Event Quality Score of ad account %s, %s events from %s (last %s): "
        "overall_status %s",
        account,
        score.source_platform,
        score.ingestion_source,
        lookback,
        score.overall_status,
    )
    types = sorted({t for by_type in score.components.values() for t in by_type})
    flagged = 0
    matched: set[str] = set()
    for event_type in types:
        name = event_name_of(event_type)
        local = run.figures.get(name) if run is not None and name is not None else None
        if name is not None:
            matched.add(name)
        if run is None:
            beside = "no local figures"
        elif name is None:
            beside = (
                "matches none of Pinterest's event names, so it cannot be matched to the "
                "last run's (whose other names are counted together as '(other event names)'): "
                "Pinterest's figures alone"
            )
        elif local is None:
            beside = f"the last run sent this account no {name} events: Pinterest's figures alone"
        else:
            beside = f"beside the last run's {local.events} {name} events ({run.path})"
        rows, differing = _table(score, event_type, local)
        logger.info("  event type %r, %s:\n%s", event_type, beside, "\n".join(rows))
        for component, ours, theirs in differing:
            flagged += 1
            logger.warning(
                "Ad account %s, %s %s events: %s differs: local %.2f, Pinterest %.2f",
                account,
                score.source_platform,
                event_type,
                component,
                ours,
                theirs,
            )
    if run is not None:
        unscored = sorted(set(run.figures) - matched)
        if unscored:
            logger.info(
                "The last run's events named %s have no score of Pinterest's among %s %s events",
                ", ".join(repr(n) for n in unscored),
                score.source_platform,
                score.ingestion_source,
            )
    return flagged


def read_quality(
    settings: Settings,
    *,
    user_agent: str,
    stop: threading.Event | None = None,
) -> str:
    """Read and log each known ad account's Event Quality Score; return the closing line.

    Raises:
        ConfigError: no access token, or no ad account known before the input.
        AuthError: the token was refused (401) or lacks ``ads:read`` (403).
        DeliveryError: another refusal, or Pinterest could not be reached.
        DeliveryStopped: ``stop`` was set.

    """
    if not settings.access_token:
        raise ConfigError(
            "access_token: --quality reads Pinterest's Event Quality Score with the run's "
            "token (one with ads:read): set it",
        )
    accounts = settings.check_accounts
    if not accounts:
        raise ConfigError(
            "--quality knows no ad account before the input: set a top-level ad_account_id "
            "(or a stream's constant one) to read its Event Quality Score",
        )
    host = urlsplit(settings.api_url).netloc or settings.api_url
    summary = load_summary(settings)
    client = PinterestClient(
        access_token=settings.access_token,
        api_url=settings.api_url,
        max_tries=min(settings.max_tries, QUALITY_TRIES),
        timeout=settings.request_timeout,
        max_retry_after=settings.max_retry_after,
        user_agent=user_agent,
        stop=stop,
    )
    flagged = 0
    try:
        for account in accounts:
            try:
                scores = client.conversion_eqs(account, LOOKBACK)
            except RetriesExhausted as exc:
                raise DeliveryError(f"could not read it from {host}: {exc}") from None
            run = last_run(settings, summary, account) if summary is not None else None
            if run is not None and run.note:
                logger.info("Local figures of ad account %s: %s", account, run.note)
            if not scores:
                logger.info(
                    "Pinterest has no Event Quality Score for ad account %s in the last %s "
                    "(no events it could score)",
                    account,
                    LOOKBACK,
                )
            for score in scores:
                flagged += log_score(account, score, run)
    finally:
        client.close()
    which = (
        f"ad account {accounts[0]}" if len(accounts) == 1 else f"ad accounts {', '.join(accounts)}"
    )
    differ = (
        f"; {flagged} component{'s differ' if flagged != 1 else ' differs'} from the last run "
        f"by more than {DIFFERENCE:g}"
        if flagged
        else ""
    )
    return f"Event Quality Score read from {host} for {which}{differ}"
