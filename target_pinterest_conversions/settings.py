"""The target's settings and their checks.

The JSON schema is what ``--about`` shows; :func:`load_settings` adds the checks the
schema cannot express. Both run before any input is read; every error names its setting.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from target_pinterest_conversions.batch_files import DEFAULT_MAX_LINE_BYTES
from target_pinterest_conversions.conversion.checks import OUTPUTS
from target_pinterest_conversions.conversion.geo import normalize_country
from target_pinterest_conversions.conversion.text import DroppedValue
from target_pinterest_conversions.delivery.client import DEFAULT_API_URL, MAX_EVENTS_PER_REQUEST
from target_pinterest_conversions.errors import ConfigError
from target_pinterest_conversions.mapping.keys import STREAM_MAPPING_KEYS, stream_mapping_schema
from target_pinterest_conversions.mapping.parse import parse_streams
from target_pinterest_conversions.mapping.spec import MappingConfigError, NameRule, StreamMapping
from target_pinterest_conversions.mapping.suggest import did_you_mean, nearest, suggest_event_name
from target_pinterest_conversions.pinterest.limits import ad_account_id as read_ad_account_id
from target_pinterest_conversions.pinterest.signals import SIGNALS
from target_pinterest_conversions.pinterest.vocabulary import (
    PINTEREST_EVENT_NAMES,
)

UNMAPPED_STREAM_POLICIES: tuple[str, ...] = ("fail", "ignore")
SIGNAL_COVERAGE_ACTIONS: tuple[str, ...] = ("warn", "fail")
MAX_LINE_BYTES_LIMIT = 1 << 30
"""The largest ``batch_max_line_bytes``: past it, the bound no longer protects memory."""

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "ad_account_id",
        th.StringType,
        title="Ad Account ID",
        description=(
            "Pinterest ad account that receives the events (digits only). Required unless "
            "every stream in streams sets its own ad_account_id, which overrides this one, "
            "or output is csv."
        ),
        examples=["549755885175"],
    ),
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        title="Access Token",
        description=(
            "Conversion access token from Ads Manager (or an OAuth token with ads:write). "
            "Required unless dry_run is true or output is csv."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the Pinterest API; change it only for a proxy or local tests.",
    ),
    th.Property(
        "test_mode",
        th.BooleanType,
        default=False,
        title="Test Mode",
        description=(
            "Send with ?test=true: Pinterest validates the events but records nothing. Test "
            "requests are held to 10 a second, Pinterest's limit for them."
        ),
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        title="Dry Run",
        description=(
            "Use no network at all; write each request's ad account and exact body to dry_run_path."
        ),
    ),
    th.Property(
        "dry_run_path",
        th.StringType,
        default="dry-run-requests.jsonl",
        title="Dry Run Path",
        description=(
            "JSON-lines file that receives one line per request in dry runs: the ad "
            'account and the exact body, {"ad_account_id": ..., "data": [...]}.'
        ),
    ),
    th.Property(
        "output",
        th.StringType,
        default="api",
        allowed_values=list(OUTPUTS),
        title="Output",
        description=(
            "'api' sends events to the API for Conversions (events up to 7 days old); 'csv' "
            "sends nothing and writes Ads Manager's offline-conversions CSV files to csv_path "
            "for upload (events up to 30 days old; no access token or ad account needed); "
            "'api+csv' routes each event by its age: up to 7 days old to the API, older "
            "checkouts up to 28 days old to the CSV files, older ones to the dead letters."
        ),
    ),
    th.Property(
        "csv_path",
        th.StringType,
        default="pinterest-conversions",
        title="CSV Path",
        description=(
            "With output csv or api+csv: a folder, or a file name ending in .csv whose "
            "folder and name start the files' names. Each run writes new files, "
            "<name>-<UTC time>-<part>.csv, never overwriting one; a file rolls over before "
            "10 million rows or 5 GB."
        ),
    ),
    th.Property(
        "dead_letter_path",
        th.StringType,
        default="dead-letter.jsonl",
        title="Dead Letter Path",
        description=(
            "JSON-lines file (appended to) of records and events that were not delivered, "
            "each with its stream, ad account, key, reason and hashed event; never raw personal "
            "data."
        ),
    ),
    th.Property(
        "partner_name",
        th.StringType,
        title="Partner Name",
        description="Sent as partner_name on every event (Pinterest's form is 'ss-<partner>').",
    ),
    th.Property(
        "default_phone_country",
        th.StringType,
        title="Default Phone Country",
        description=(
            "ISO-3166 alpha-2 country (e.g. US) for phone numbers and state names when a "
            "record has no country of its own; numbers written with + or 00 keep theirs."
        ),
        examples=["US", "GB"],
    ),
    th.Property(
        "max_rejected_ratio",
        th.NumberType,
        default=0.5,
        title="Max Rejected Ratio",
        description=(
            "Stop with exit code 6 when more than this share (0 to 1) of a stream's records "
            "is rejected (dead-lettered or failed at Pinterest), checked from 100 records on "
            "and at the end, so a broken mapping cannot dead-letter everything. 1 never stops."
        ),
    ),
    th.Property(
        "min_signal_coverage",
        th.ObjectType(additional_properties=th.NumberType),
        title="Min Signal Coverage",
        description=(
            "Floors for the run's signal quality: match signal to the least share (0 to 1) "
            "of each stream's sent events, per event name, that must carry it, e.g. "
            '{"hashed_email": 0.8}. Signals: '
            + ", ".join(SIGNALS)
            + ". Below a floor, the run warns or fails (signal_coverage_action)."
        ),
        examples=[{"hashed_email": 0.8, "ip_address": 0.5}],
    ),
    th.Property(
        "signal_coverage_action",
        th.StringType,
        default="warn",
        allowed_values=list(SIGNAL_COVERAGE_ACTIONS),
        title="Signal Coverage Action",
        description=(
            "What a drop below min_signal_coverage does at the end of a run: 'warn' (a "
            "warning per shortfall) or 'fail' (exit code 7, after every event was "
            "delivered and every STATE written)."
        ),
    ),
    th.Property(
        "summary_path",
        th.StringType,
        title="Summary Path",
        description="Write the run summary as JSON to this file at the end of the run.",
    ),
    th.Property(
        "max_parallel_requests",
        th.IntegerType,
        default=4,
        title="Max Parallel Requests",
        description=(
            "Requests in flight at once (1 to 32). Memory holds at most this many batches; "
            "STATE still waits for every record before it."
        ),
    ),
    th.Property(
        "max_tries",
        th.IntegerType,
        default=8,
        title="Max Tries",
        description="Tries per request on 429, 5xx, timeouts and connection errors (1 to 20).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=60,
        title="Request Timeout",
        description="Seconds to wait for Pinterest to answer one request.",
    ),
    th.Property(
        "max_retry_after",
        th.NumberType,
        default=300,
        title="Max Retry After",
        description=(
            "Longest wait in seconds that a Retry-After header may ask for (1 to 3600); a "
            "longer one ends the retries with a clear message instead of stalling the run."
        ),
    ),
    th.Property(
        "shutdown_grace",
        th.NumberType,
        default=20,
        title="Shutdown Grace",
        description=(
            "Seconds that requests in flight may take to finish after SIGTERM or SIGINT "
            "(0 to 600); then they are cut, and STATE covers only what was delivered."
        ),
    ),
    th.Property(
        "progress_interval",
        th.NumberType,
        default=5,
        title="Progress Interval",
        description=(
            "Seconds between progress log lines (records read, events sent, dead-lettered, "
            "rate); 0 logs one after every batch."
        ),
    ),
    th.Property(
        "batch_max_line_bytes",
        th.IntegerType,
        default=DEFAULT_MAX_LINE_BYTES,
        title="Batch Max Line Bytes",
        description=(
            "Longest line, in bytes, of a BATCH message's file (1024 to 1073741824; default "
            "64 MiB): a longer one stops the run with exit code 5 before it is read whole, "
            "so a small gzip file of one huge line cannot exhaust memory."
        ),
    ),
    th.Property(
        "streams",
        th.ObjectType(additional_properties=th.ObjectType()),
        required=True,
        title="Streams",
        description=(
            "Stream name to event mapping (see the README's mapping guide). "
            "What happens to streams not listed is set by unmapped_streams."
        ),
    ),
    th.Property(
        "unmapped_streams",
        th.StringType,
        default="fail",
        allowed_values=list(UNMAPPED_STREAM_POLICIES),
        title="Unmapped Streams",
        description=(
            "What to do with an input stream that has no mapping in streams: 'fail' (stop "
            "with exit code 2 before any of its records, naming the nearest configured "
            "stream) or 'ignore' (count its records and skip them, for taps that send more "
            "streams than you map)."
        ),
    ),
).to_dict()
# Each stream's mapping, documented key by key from the registry (--about, Meltano).
CONFIG_SCHEMA["properties"]["streams"]["additionalProperties"] = stream_mapping_schema()


def validation_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as config is checked against: each stream's mapping left to the parser.

    The parser's messages name the setting and the nearest key (``streams.orders.user_data.
    emial: ... did you mean 'em'?``); a schema error would say less, and first.
    """
    properties = dict(schema["properties"])
    properties["streams"] = {**properties["streams"], "additionalProperties": {"type": "object"}}
    return {**schema, "properties": properties}


SDK_SETTINGS: frozenset[str] = frozenset(
    {
        "add_record_metadata",
        "batch_config",
        "batch_size_rows",
        "default_target_schema",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "hard_delete",
        "load_method",
        "process_activate_version_messages",
        "stream_map_config",
        "stream_maps",
        "validate_records",
    },
)
"""Settings the SDK defines for targets; accepted whether or not they apply here."""


@dataclass(frozen=True)
class Settings:
    """Checked settings the target runs with."""

    ad_account_id: str | None
    """The top-level ad account: every stream without its own sends there."""
    access_token: str | None
    api_url: str
    test_mode: bool
    dry_run: bool
    dry_run_path: str
    dead_letter_path: str
    partner_name: str | None
    default_phone_country: str | None
    max_rejected_ratio: float
    summary_path: str | None
    max_tries: int
    max_parallel_requests: int
    request_timeout: float
    batch_size: int
    streams: Mapping[str, StreamMapping]
    unmapped_streams: str = "fail"
    progress_interval: float = 5.0
    max_retry_after: float = 300.0
    shutdown_grace: float = 20.0
    batch_max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    warnings: tuple[str, ...] = ()
    """Start-up warnings about settings that work but are probably not what was meant."""
    unlisted_event_names: frozenset[str] = frozenset()
    """Configured event names Pinterest does not list (warned about at start-up)."""
    output: str = "api"
    """``api`` (send) or ``csv`` (write Ads Manager's upload files to ``csv_path``)."""
    csv_path: str = "pinterest-conversions"
    min_signal_coverage: Mapping[str, float] = field(default_factory=dict)
    """Match signal to the least share of a stream's events (per event name) carrying it."""
    signal_coverage_action: str = "warn"
    """``warn`` or ``fail`` (exit 7) when a share is under its ``min_signal_coverage``."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach a log line."""
        return (self.access_token,) if self.access_token else ()

    @property
    def constant_accounts(self) -> tuple[str, ...]:
        """The ad accounts the streams send to that are known before any input."""
        accounts = []
        for mapping in self.streams.values():
            source = mapping.ad_account_id
            if source is None:
                accounts.append(self.ad_account_id)
            elif source.is_const:
                accounts.append(str(source.const))
        return tuple(dict.fromkeys(a for a in accounts if a))

    @property
    def check_accounts(self) -> tuple[str, ...]:
        """The ad accounts ``--check`` tries: the top-level one, then each stream's constant."""
        top = (self.ad_account_id,) if self.ad_account_id else ()
        return tuple(dict.fromkeys((*top, *self.constant_accounts)))

    @property
    def streams_with_account_field(self) -> tuple[str, ...]:
        """Streams whose records say which ad account they go to."""
        return tuple(
            name
            for name, mapping in self.streams.items()
            if mapping.ad_account_id is not None and not mapping.ad_account_id.is_const
        )

    @property
    def accounts_label(self) -> str:
        """Where events go: ``ad account 1``, or ``ad accounts 1, 2, per record (events)``."""
        accounts = list(self.constant_accounts)
        fields = self.streams_with_account_field
        if fields:
            accounts.append(f"per record ({', '.join(fields)})")
        noun = "ad account" if len(accounts) == 1 and not fields else "ad accounts"
        return f"{noun} {', '.join(accounts)}"


def env_settings(
    schema: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """Read settings from ``<PREFIX><SETTING>`` environment variables (``--config ENV``).

    Each value is parsed by the setting's type: integers, numbers, booleans
    (``true``/``1``/``yes``/``on``), and JSON for objects and arrays.

    Raises:
        ConfigError: a value does not parse; the message names the variable and the
            expected type, never the value (it may be a secret).

    """
    config: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        var = prefix + name.upper().replace("-", "_")
        if var not in environ:
            continue
        text = environ[var]
        kinds = prop.get("type", "string")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        try:
            config[name] = _env_value(text, kinds)
        except ValueError:
            expected = " or ".join(k for k in kinds if k != "null")
            raise ConfigError(f"{var}: expected {_ARTICLES.get(expected, expected)}") from None
    return config


SDK_ENV_VARIABLES: frozenset[str] = frozenset({"LOGLEVEL"})
"""Variables of the prefix that are not settings but that the SDK reads: the log level."""
_SDK_OBJECT_SETTINGS = frozenset(
    {"batch_config", "faker_config", "stream_maps", "stream_map_config"}
)


def unknown_env_settings(
    schema: Mapping[str, Any],
    prefix: str,
    environ: Mapping[str, str],
) -> list[str]:
    """Describe each ``<PREFIX>*`` variable that names no setting, with the nearest one.

    A misspelt variable is otherwise ignored without a word (``..._DRYRUN=true`` beside
    a real token would send live). Also allowed: :data:`SDK_ENV_VARIABLES`, ``<PREFIX>_*``
    (Meltano's extras, e.g. ``..._DIALECT`` with two underscores) and ``<PREFIX><OBJECT>_*``
    for object settings (Meltano's form of nested ones, e.g. ``..._BATCH_CONFIG_STORAGE_ROOT``).
    """
    properties: Mapping[str, Any] = schema.get("properties", {})
    names = {_env_name(name): name for name in (*properties, *SDK_SETTINGS)}
    objects = {name for name, prop in properties.items() if "object" in _kinds(prop)}
    nested = tuple(_env_name(name) + "_" for name in objects | _SDK_OBJECT_SETTINGS)
    problems = []
    for var in sorted(environ):
        if not var.startswith(prefix):
            continue
        suffix = var[len(prefix) :]
        if suffix in names or suffix in SDK_ENV_VARIABLES or suffix.startswith(("_", *nested)):
            continue
        match = nearest(suffix, names.values())
        hint = (
            f"did you mean '{match}' ({prefix}{_env_name(match)})?"
            if match is not None
            else "see --about for the settings"
        )
        problems.append(f"{var}: unknown setting; {hint}")
    return problems


def _env_name(setting: str) -> str:
    return setting.upper().replace("-", "_")


def _kinds(prop: Mapping[str, Any]) -> list[str]:
    kinds = prop.get("type", "string")
    return [kinds] if isinstance(kinds, str) else list(kinds)


_ARTICLES = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a JSON array",
}


def _env_value(text: str, kinds: list[str]) -> Any:
    if "integer" in kinds:
        return int(text.strip())
    if "number" in kinds:
        number = float(text.strip())
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    if "boolean" in kinds:
        word = text.strip().lower()
        if word in ("true", "1", "yes", "on", "t", "y"):
            return True
        if word in ("false", "0", "no", "off", "f", "n", ""):
            return False
        raise ValueError(text)
    if "object" in kinds or "array" in kinds:
        value = json.loads(text)
        want = dict if "object" in kinds else list
        if not isinstance(value, want):
            raise ValueError(text)
        return value
    return text


def _check_api_url(api_url: str) -> None:
    """Refuse URLs that would send the token in clear text, or nowhere sensible.

    Plain http is accepted only for loopback hosts (local tests and proxies on this
    machine): anywhere else it would carry the bearer token unencrypted.
    """
    parts = urlsplit(api_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("api_url: must be an https:// URL such as https://api.pinterest.com")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("api_url: must not hold credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"api_url: http:// would send the access token unencrypted to {parts.hostname}; "
            "use https:// (plain http is accepted only for loopback hosts, for local tests)",
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unknown_settings(config: Mapping[str, Any], known: Collection[str]) -> list[str]:
    """Describe each top-level key of ``config`` that is not a setting, with a suggestion.

    A typo must not pass unnoticed: ``dryrun`` beside a real token would otherwise
    turn a dry run into a live send. A key that belongs inside a stream's mapping
    (``event_name`` at the top) is pointed there.
    """
    problems = []
    for key in config:
        if key in known:
            continue
        match = nearest(key, known)
        if match is not None:
            hint = f"did you mean '{match}'?"
        elif (inner := nearest(key, STREAM_MAPPING_KEYS)) is not None:
            hint = f"'{inner}' is a key of a stream's mapping: put it under streams.<stream>"
        else:
            hint = "see --about for the settings"
        problems.append(f"{key}: unknown setting; {hint}")
    return problems


def unmapped_stream_message(stream: str, configured: Collection[str]) -> str:
    """Explain that ``stream`` has no mapping, naming the configured streams."""
    names = ", ".join(f"'{n}'" for n in sorted(configured)) or "none"
    return (
        f"streams: stream '{stream}' is in the input but has no mapping (configured: "
        f"{names}){did_you_mean(stream, configured) or '.'} Map it in streams, or set "
        "unmapped_streams to 'ignore' to skip streams you do not map"
    )


def _unlisted_event_names(streams: Mapping[str, StreamMapping]) -> dict[str, list[str]]:
    """Configured event names (constants and map targets) that Pinterest does not list."""
    found: dict[str, list[str]] = {}
    for name, mapping in streams.items():
        constants = [mapping.event_name]
        if mapping.event_name_rule is not None:
            constants += [mapping.event_name_rule.const, *mapping.event_name_rule.table.values()]
        for event_name in dict.fromkeys(c for c in constants if c):
            if event_name not in PINTEREST_EVENT_NAMES:
                found.setdefault(name, []).append(event_name)
    return found


def _event_name_warning(stream: str, event_name: str) -> str:
    guess = suggest_event_name(event_name)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return (
        f"streams.{stream}: '{event_name}' is not a Pinterest event name{hint} "
        "(it is sent as written, and Pinterest may not report it)"
    )


CSV_COLUMNS_OF = {"em": "email", "hashed_maids": "madid"}
"""The ``user_data`` keys the CSV carries (the first value of each), by column."""
CSV_UNCONFIRMED = ("value", "currency", "order_id")
"""``custom_data`` keys whose CSV column spelling Pinterest's help page does not show."""


def csv_uncarried(mapping: StreamMapping) -> tuple[list[str], list[str]]:
    """The mapped fields the CSV output does not write: unconfirmed columns, no column."""
    unconfirmed = [key for key in CSV_UNCONFIRMED if key in mapping.custom_data]
    other = [f"user_data.{key}" for key in mapping.user_data if key not in CSV_COLUMNS_OF]
    other += [f"custom_data.{key}" for key in mapping.custom_data if key not in CSV_UNCONFIRMED]
    other += ["contents"] if mapping.contents is not None else []
    other += [*mapping.extra, *mapping.info]
    return unconfirmed, other


def _can_give(rule: NameRule, value: str) -> bool:
    """Tell whether a name rule may give ``value``: its constant or one of its table's."""
    return rule.const == value or value in rule.table.values()


def _dedup_warnings(streams: Mapping[str, StreamMapping]) -> list[str]:
    """Name each stream whose web checkouts carry neither an event id nor an order id.

    Pinterest deduplicates the API's events against the Pinterest Tag's by event id (and
    order id): a derived id never equals the one the site's Tag sent, so each purchase
    would count twice.
    """
    return [
        f"streams.{name}: web checkout events carry neither event_id nor "
        "custom_data.order_id, so Pinterest cannot deduplicate them against the Pinterest "
        "Tag's: map event_id to the id the Tag sends, or custom_data.order_id"
        for name, mapping in streams.items()
        if _can_give(mapping.name_rule, "checkout")
        and _can_give(mapping.source_rule, "web")
        and mapping.event_id is None
        and "order_id" not in mapping.custom_data
    ]


def _csv_warnings(streams: Mapping[str, StreamMapping], output: str = "csv") -> list[str]:
    """Name, once at start-up, what each stream maps that its CSV rows leave out."""
    warnings = []
    for name, mapping in streams.items():
        unconfirmed, other = csv_uncarried(mapping)
        parts = []
        if unconfirmed:
            parts.append(
                f"{', '.join(unconfirmed)} (Pinterest's help page does not show these "
                "columns' spelling: docs/pinterest-conversions-csv.md; Ads Manager counts "
                "the conversions without them)",
            )
        if other:
            parts.append(f"{', '.join(other)} (the CSV has no column for them)")
        if parts:
            warnings.append(
                f"output {output}: stream '{name}': mapped fields not written to the CSV: "
                + "; ".join(parts),
            )
    return warnings


def _csv_account_problem(
    streams: Mapping[str, StreamMapping],
    ad_account_id: str | None,
    output: str = "csv",
) -> str | None:
    """Why ``output`` (``csv``, ``api+csv``) cannot serve the mapped ad accounts: one file set."""
    accounts = []
    for name, mapping in streams.items():
        source = mapping.ad_account_id
        if source is None:
            accounts.append(ad_account_id)
        elif not source.is_const:
            return (
                f"streams.{name}.ad_account_id: output {output} writes one set of files, uploaded "
                "to one ad account in Ads Manager, but this stream reads each record's "
                "account: use output api, or run once per account with its own csv_path"
            )
        else:
            accounts.append(str(source.const))
    distinct = sorted({a for a in accounts if a})
    if len(distinct) > 1:
        return (
            f"ad_account_id: output {output} writes one set of files, uploaded to one ad account "
            f"in Ads Manager, but the streams name {len(distinct)} ({', '.join(distinct)}): "
            "run once per account, each with its own csv_path"
        )
    return None


def load_settings(config: Mapping[str, Any]) -> Settings:
    """Check ``config`` and return :class:`Settings`.

    Raises:
        ConfigError: a setting is missing or invalid; the message names it and never
            repeats a secret's value.

    """
    ad_account_id = None
    if config.get("ad_account_id") not in (None, ""):
        ad_account_id = read_ad_account_id(config["ad_account_id"])
        if ad_account_id is None:
            raise ConfigError("ad_account_id: must be the ad account's id, 1 to 18 digits")
    dry_run = bool(config.get("dry_run", False))
    output = config.get("output") or "api"
    if output not in OUTPUTS:
        raise ConfigError(
            f"output: must be one of {', '.join(OUTPUTS)}{did_you_mean(str(output), OUTPUTS)}"
        )
    csv_path = str(config.get("csv_path") or "pinterest-conversions").strip()
    if output == "csv" and dry_run:
        # Both would write files instead of sending; one run has one output.
        raise ConfigError("dry_run: output csv sends nothing already; set dry_run to false")
    token = config.get("access_token")
    if isinstance(token, str):
        token = token.strip() or None
    if token is None and not dry_run and output != "csv":
        raise ConfigError("access_token: required unless dry_run is true or output is csv")
    if token is not None and (not isinstance(token, str) or any(c.isspace() for c in token)):
        raise ConfigError("access_token: must be the token text, without spaces or 'Bearer'")
    if token is not None and not token.isascii():
        # An HTTP header carries Latin-1 at most, and Pinterest's tokens are ASCII: a
        # curly quote pasted in would otherwise fail the first request, after input is read.
        raise ConfigError(
            "access_token: holds a character that is not plain ASCII (a quote or dash "
            "changed in copying?): copy the token again from Ads Manager"
        )
    api_url = str(config.get("api_url") or DEFAULT_API_URL).strip()
    _check_api_url(api_url)
    max_tries = int(config.get("max_tries", 8))
    if not 1 <= max_tries <= 20:
        raise ConfigError("max_tries: must be from 1 to 20")
    parallel = int(config.get("max_parallel_requests", 4))
    if not 1 <= parallel <= 32:
        raise ConfigError("max_parallel_requests: must be from 1 to 32")
    timeout = float(config.get("request_timeout", 60))
    if not 0 < timeout <= 600:
        raise ConfigError("request_timeout: must be more than 0 and at most 600 seconds")
    rows = config.get("batch_size_rows")
    batch_size = MAX_EVENTS_PER_REQUEST if rows is None else int(rows)
    if not 1 <= batch_size <= MAX_EVENTS_PER_REQUEST:
        raise ConfigError(
            f"batch_size_rows: Pinterest takes at most {MAX_EVENTS_PER_REQUEST} events "
            "a request; use 1 to 1000",
        )
    if "streams" not in config or not config["streams"]:
        raise ConfigError("streams: map at least one stream to a Pinterest event")
    try:
        streams = parse_streams(config["streams"])
    except MappingConfigError as exc:
        raise ConfigError(str(exc)) from None
    if ad_account_id is None and output != "csv":
        # The simplest rule that is never ambiguous: an account for every mapped stream.
        without = [name for name, mapping in streams.items() if mapping.ad_account_id is None]
        if without:
            raise ConfigError(
                "ad_account_id: required unless every stream in streams sets its own "
                f"ad_account_id (not set for: {', '.join(without)})",
            )
    partner_name = config.get("partner_name")
    phone_country = config.get("default_phone_country")
    if phone_country is not None:
        try:
            phone_country = normalize_country(str(phone_country))
        except DroppedValue:
            raise ConfigError(
                "default_phone_country: expected an ISO-3166 alpha-2 country code such as US",
            ) from None
    ratio = float(config.get("max_rejected_ratio", 0.5))
    if not 0 <= ratio <= 1:
        raise ConfigError("max_rejected_ratio: must be from 0 to 1")
    unmapped = config.get("unmapped_streams") or "fail"
    if unmapped not in UNMAPPED_STREAM_POLICIES:
        raise ConfigError(
            f"unmapped_streams: must be one of {', '.join(UNMAPPED_STREAM_POLICIES)}"
            f"{did_you_mean(str(unmapped), UNMAPPED_STREAM_POLICIES)}",
        )
    progress = float(config.get("progress_interval", 5))
    if not 0 <= progress <= 3600:
        raise ConfigError("progress_interval: must be from 0 to 3600 seconds")
    max_retry_after = float(config.get("max_retry_after", 300))
    if not 1 <= max_retry_after <= 3600:
        raise ConfigError("max_retry_after: must be from 1 to 3600 seconds")
    grace = float(config.get("shutdown_grace", 20))
    if not 0 <= grace <= 600:
        raise ConfigError("shutdown_grace: must be from 0 to 600 seconds")
    max_line = int(config.get("batch_max_line_bytes", DEFAULT_MAX_LINE_BYTES))
    if not 1024 <= max_line <= MAX_LINE_BYTES_LIMIT:
        raise ConfigError(
            f"batch_max_line_bytes: must be from 1024 to {MAX_LINE_BYTES_LIMIT} bytes",
        )
    floors = _signal_floors(config.get("min_signal_coverage"))
    action = config.get("signal_coverage_action") or "warn"
    if action not in SIGNAL_COVERAGE_ACTIONS:
        raise ConfigError(
            f"signal_coverage_action: must be one of {', '.join(SIGNAL_COVERAGE_ACTIONS)}"
            f"{did_you_mean(str(action), SIGNAL_COVERAGE_ACTIONS)}",
        )
    csv_warnings: list[str] = []
    if output != "api":
        problem = _csv_account_problem(streams, ad_account_id, output)
        if problem:
            raise ConfigError(problem)
        csv_warnings = _csv_warnings(streams, output)
    unlisted = _unlisted_event_names(streams)
    return Settings(
        ad_account_id=ad_account_id,
        access_token=token,
        api_url=api_url,
        test_mode=bool(config.get("test_mode", False)),
        dry_run=dry_run,
        dry_run_path=str(config.get("dry_run_path") or "dry-run-requests.jsonl"),
        dead_letter_path=str(config.get("dead_letter_path") or "dead-letter.jsonl"),
        partner_name=str(partner_name).strip() if partner_name else None,
        default_phone_country=phone_country,
        max_rejected_ratio=ratio,
        summary_path=str(config["summary_path"]) if config.get("summary_path") else None,
        max_tries=max_tries,
        max_parallel_requests=parallel,
        request_timeout=timeout,
        batch_size=batch_size,
        streams=streams,
        unmapped_streams=unmapped,
        progress_interval=progress,
        max_retry_after=max_retry_after,
        shutdown_grace=grace,
        batch_max_line_bytes=max_line,
        warnings=(
            *(
                _event_name_warning(stream, name)
                for stream, names in unlisted.items()
                for name in names
            ),
            *csv_warnings,
            *_dedup_warnings(streams),
        ),
        unlisted_event_names=frozenset(n for names in unlisted.values() for n in names),
        output=output,
        csv_path=csv_path,
        min_signal_coverage=floors,
        signal_coverage_action=action,
    )


def _signal_floors(value: object) -> dict[str, float]:
    """The checked ``min_signal_coverage``: known signal names, shares from 0 to 1."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError('min_signal_coverage: expected an object such as {"hashed_email": 0.8}')
    floors = {}
    for name, share in value.items():
        if name not in SIGNALS:
            raise ConfigError(
                f"min_signal_coverage.{name}: not a match signal; the signals are "
                f"{', '.join(SIGNALS)}{did_you_mean(str(name), SIGNALS)}",
            )
        number = isinstance(share, (int, float, Decimal)) and not isinstance(share, bool)
        if not number or not 0 <= share <= 1:
            raise ConfigError(f"min_signal_coverage.{name}: must be a number from 0 to 1")
        floors[name] = float(share)
    return floors
