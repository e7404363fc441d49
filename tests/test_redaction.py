"""Secrets and personal data never reach logs, stdout or the dead-letter file."""

from __future__ import annotations

import json
import logging

import pytest

from target_pinterest_conversions.context import redaction
from target_pinterest_conversions.context.redaction import Redactor, redact, redact_record
from tests.cli import run_target
from tests.fake_pinterest import FakePinterest, Scripted
from tests.shopify import EXAMPLE_MAPPING

TOKEN = "pina_SECRET123tokenVALUE"
EMAIL = "Jane.Secret@Example.com"
PHONE = "+1 (415) 555-0199"
DEBUG = {"TARGET_PINTEREST_CONVERSIONS_LOGLEVEL": "DEBUG"}
MAPPING = {
    "event_name": "checkout",
    "action_source": "web",
    "event_time": "createdAt",
    "event_id": "id",
    "user_data": {"em": "email", "ph": "phone"},
}


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"token is {TOKEN}", TOKEN),
        ("Authorization: Bearer abc.DEF-123", "abc.DEF-123"),
        (f"email {EMAIL} rejected", EMAIL),
        ("call +44 20 7946 0958 now", "+44 20 7946 0958"),
        ("call (415) 555-0199 now", "(415) 555-0199"),
        ("call 415-555-0199 now", "415-555-0199"),
    ],
)
def test_redact_masks_secrets_emails_and_phones(text, leaked):
    assert leaked not in redact(text, [TOKEN])


def test_redact_leaves_ordinary_numbers_and_times_alone():
    text = "batch of 1000 events in 0.0123456s at 1732345678, 2026-11-23T05:36:38Z"
    assert redact(text) == text


def test_a_record_s_arguments_and_exception_text_are_masked():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad %s", (EMAIL,), None)
    try:
        raise ValueError(f"value {EMAIL} with {TOKEN}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    redact_record(record, Redactor([TOKEN]))
    assert EMAIL not in record.getMessage()
    assert EMAIL not in record.exc_text and TOKEN not in record.exc_text


def _lines(n: int = 3, email: str = EMAIL, phone: str = PHONE) -> list[str]:
    import datetime as dt

    from tests.shopify import make_order

    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "email": {"type": ["null", "string"]},
            "phone": {"type": ["null", "string"]},
            "createdAt": {"type": ["null", "string"], "format": "date-time"},
        },
    }
    out = [
        json.dumps(
            {"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["id"]}
        )
    ]
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(n):
        order = make_order(i, now - dt.timedelta(minutes=10))
        order.update(email=email, phone=phone)
        if i == 1:
            order["createdAt"] = "not a time"
        out.append(
            json.dumps({"type": "RECORD", "stream": "orders", "record": order}, default=float)
        )
    out.append(json.dumps({"type": "STATE", "value": {"n": n}}))
    return out


def _assert_clean(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert EMAIL not in text and EMAIL.lower() not in text
        assert PHONE not in text and "4155550199" not in text


@pytest.mark.parametrize(
    ("scripted", "code", "requests"),
    [
        ([], 0, 1),
        ([Scripted(status=401, body={"code": 2, "message": "Authentication failed."})], 3, 1),
        (
            [Scripted(status=500, body={"code": 1, "message": "x"}, headers={"Retry-After": "0"})]
            * 3,
            4,
            3,
        ),
        ([Scripted(status=400, body={"code": 1, "message": "Invalid request"})], 4, 1),
    ],
    ids=["success", "401", "retries-exhausted", "400"],
)
def test_debug_logs_never_hold_the_token_or_raw_personal_data(tmp_path, scripted, code, requests):
    with FakePinterest(token=TOKEN) as api:
        api.script.extend(scripted)
        cfg = {
            "ad_account_id": "549755885175",
            "access_token": TOKEN,
            "api_url": api.url,
            "max_tries": 3,
            "streams": {"orders": MAPPING},
        }
        result = run_target(tmp_path, cfg, _lines(), env=DEBUG)
    assert result.returncode == code, result.stderr[-2000:]
    assert len(api.requests) == requests
    assert "DEBUG" in result.stderr  # the run really logged at DEBUG
    dead = tmp_path / "dead-letter.jsonl"
    _assert_clean(result.stdout, result.stderr, dead.read_text() if dead.exists() else "")


def test_config_errors_never_echo_the_token(tmp_path):
    cfg = {
        "ad_account_id": "549755885175",
        "access_token": 123456789,
        "streams": {"o": EXAMPLE_MAPPING},
    }
    result = run_target(tmp_path, cfg, [], env=DEBUG)
    assert result.returncode == 2
    assert "access_token" in result.stderr
    assert "123456789" not in result.stderr


def test_a_malformed_input_line_is_reported_by_number_without_its_content(tmp_path):
    lines = _lines(2)
    lines.insert(2, '{"type": "RECORD", "stream": "orders", "record": {"email": "' + EMAIL + '"')
    cfg = {"ad_account_id": "549755885175", "dry_run": True, "streams": {"orders": MAPPING}}
    result = run_target(tmp_path, cfg, lines, env=DEBUG)
    assert result.returncode == 5
    assert "input line 3: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    _assert_clean(result.stdout, result.stderr)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_about_never_shows_the_token(tmp_path, fmt):
    import subprocess

    from tests.cli import command, write_config

    path = write_config(tmp_path, {"ad_account_id": "1", "access_token": TOKEN, "streams": {}})
    args = [*command(), "--about", "--config", str(path)]
    if fmt != "text":
        args += ["--format", fmt]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "access_token" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


# A short secret is masked only as a whole token; a long one wherever it occurs.


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("token x.", "token x."),  # '.' is a token character: "x." is another token
        ("token x, then", "token [redacted], then"),
        ("'x'", "'[redacted]'"),
        ("max_tries x-ray xylophone box 1.02x", "max_tries x-ray xylophone box 1.02x"),
        ("Authorization: Bearer x", "Authorization: Bearer [redacted]"),
        ("AUTHORIZATION: bearer x", "AUTHORIZATION: bearer [redacted]"),
    ],
)
def test_a_short_secret_is_masked_only_as_a_whole_token(text, clean):
    assert redact(text, ["x"]) == clean


def test_a_long_secret_is_masked_inside_other_text_too():
    assert redact(f"auth=Bearer%20{TOKEN}&x=1 {TOKEN}xyz", [TOKEN]) == (
        "auth=Bearer%20[redacted]&x=1 [redacted]xyz"
    )


def _structured(record: logging.LogRecord) -> dict:
    from singer_sdk.logging import StructuredFormatter

    return json.loads(StructuredFormatter().format(record))


def _record_with(exc: BaseException, msg: str = "failed", args: tuple = ()) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:  # any exception, as logger.exception takes
        import sys

        info = sys.exc_info()
    return logging.LogRecord("x", logging.ERROR, __file__, 1, msg, args, info)


def _raise_chain(kind: str) -> BaseException:
    try:
        try:
            raise ValueError(f"inner echo {TOKEN}")
        except ValueError as inner:
            if kind == "cause":
                raise RuntimeError(f"outer {EMAIL}") from inner
            if kind == "none":
                raise RuntimeError("outer, its context hidden on purpose") from None
            raise RuntimeError("outer while handling")  # noqa: B904 - the implicit context
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize("kind", ["cause", "none", "context"])
def test_the_structured_formatter_never_shows_a_secret_in_a_chained_exception(kind):
    exc = _raise_chain(kind)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
    record.exc_info = (type(exc), exc, exc.__traceback__)
    redact_record(record, Redactor([TOKEN]))
    data = _structured(record)
    text = json.dumps(data)
    assert TOKEN not in text and EMAIL not in text
    assert TOKEN not in record.exc_text and EMAIL not in record.exc_text
    exception = data["exception"]
    assert exception["type"] == "RuntimeError" and exception["module"] == "builtins"
    assert exception["traceback"]  # the frames are the original's
    if kind == "cause":
        assert exception["message"] == "outer [redacted-email]"
        assert exception["cause"]["message"] == "inner echo [redacted]"
        assert "The above exception was the direct cause" in record.exc_text
    elif kind == "none":
        # raise ... from None hides the context; the SDK's formatter would print it.
        assert "context" not in exception and "cause" not in exception
        assert "inner echo" not in record.exc_text
    else:
        assert exception["context"]["message"] == "inner echo [redacted]"


def test_an_exception_with_nothing_to_hide_is_left_as_it_is():
    exc = KeyError("fine")
    record = _record_with(exc)
    redact_record(record, Redactor([TOKEN]))
    assert record.exc_info[1] is exc


def test_arguments_are_redacted_and_the_format_string_kept():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d x: %s", (3, "token x"), None)
    redact_record(record, Redactor(["x"]))
    assert record.getMessage() == "3 x: token [redacted]"
    # Without arguments the message is data, redacted whole.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "3 x: token x", (), None)
    redact_record(record, Redactor(["x"]))
    assert record.getMessage() == "3 [redacted]: token [redacted]"


def test_extra_fields_are_redacted_for_the_structured_formatter():
    import io

    from singer_sdk.logging import StructuredFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(StructuredFormatter())
    named = logging.getLogger("test_redaction.extra")
    named.propagate = False
    named.setLevel(logging.INFO)
    named.addHandler(handler)
    try:
        redaction.install([TOKEN])  # extra= is set after the record factory ran
        named.info("done", extra={"detail": {"said": f"Bearer {TOKEN}", "n": 3}})
    finally:
        named.removeHandler(handler)
        redaction.install()
    data = json.loads(out.getvalue())
    assert data["extra"]["detail"] == {"said": "Bearer [redacted]", "n": 3}


def test_install_redacts_records_of_every_logger_whatever_its_handlers(tmp_path):
    from singer_sdk.logging import StructuredFormatter

    path = tmp_path / "named.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(StructuredFormatter())
    named = logging.getLogger("test_redaction.named")
    named.propagate = False
    named.setLevel(logging.DEBUG)
    named.addHandler(handler)
    try:
        redaction.install([TOKEN])
        named.debug("echo %s", f"token {TOKEN}")
        named.error("failed", exc_info=_raise_chain("none"))
        named.warning(f"pre-formatted {TOKEN} for {EMAIL}")  # as some libraries do
    finally:
        named.removeHandler(handler)
        handler.close()
        redaction.install()
    text = path.read_text()
    assert text.count("\n") == 3
    assert TOKEN not in text and EMAIL not in text and "inner echo" not in text
    assert redaction.scrub(TOKEN) == TOKEN  # install() without secrets forgets the token


# Bounded work (issue 21, item 10) ------------------------------------------------------------

WORST_CASES = {
    "digits": "1",
    "a@": "a@",
    "spaces": " ",
    "dots": ".",
    "spaces and dots": ". ",
    "token characters": "aB3-_.~+/=",
    "phone shapes": "+1 (",
    "mixed": "1a@. +",
}
"""Runs that made a pattern rescan the text from each of its positions."""


def _fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("unit", WORST_CASES.values(), ids=WORST_CASES.keys())
def test_a_4_mib_text_is_cut_to_the_bound_before_redacting_and_says_so(unit):
    # Deterministic, whatever the machine's load: the patterns never see more than
    # MAX_CHARS characters, however long the text (about 20 ms for 4 MiB here).
    from target_pinterest_conversions.context.redaction import MAX_CHARS, Redactor

    redactor = Redactor([TOKEN])
    seen: list[int] = []
    work = redactor._redact
    redactor._redact = lambda text: (seen.append(len(text)), work(text))[1]  # type: ignore[method-assign]
    text = _fill(unit, 4 * 1024 * 1024 - 60) + f" {TOKEN} {EMAIL} "
    clean = redactor(text)
    assert seen and max(seen) <= MAX_CHARS
    assert len(clean) <= MAX_CHARS
    assert clean.endswith(f"[cut: the text had {len(text)} characters]")
    assert redactor(clean) == clean  # a cut text is not cut (or noted) a second time


def test_redaction_time_grows_linearly_with_the_text():
    # A ratio of this thread's own CPU time, not a wall time, so other processes' load
    # does not count: 4 times the text takes about 4 times as long when linear, 16 times
    # when quadratic (the old email pattern on digits). The best of three runs of every
    # shape, and a factor of 10, leave room for noise.
    import time

    from target_pinterest_conversions.context.redaction import Redactor

    redactor = Redactor([TOKEN, "x"])

    def best(size: int) -> float:
        texts = [_fill(unit, size) for unit in WORST_CASES.values()]
        runs = []
        for _ in range(3):
            started = time.thread_time()
            for text in texts:
                redactor(text)
            runs.append(time.thread_time() - started)
        return min(runs)

    small, large = best(8_000), best(32_000)
    assert large < 10 * small, f"{small=:.4f}s {large=:.4f}s"


@pytest.mark.parametrize(
    "secret",
    [
        "pina_" + "L" * 395,  # longer than the last word dropped at the cut
        EMAIL,
        TOKEN,
    ],
    ids=["400-char token", "email", "token"],
)
def test_a_secret_the_cut_runs_through_is_not_shown_in_part(secret):
    from target_pinterest_conversions.context.redaction import MAX_CHARS, Redactor

    redactor = Redactor([TOKEN, secret])
    for start in range(MAX_CHARS - 64 - len(secret) + 1, MAX_CHARS - 64, 7):
        text = _fill("words ", start) + secret + " and more" * 10_000
        clean = redactor(text)
        assert clean.endswith(f"[cut: the text had {len(text)} characters]")
        assert secret[:4] not in clean.replace("[redacted", "")


def test_a_4_mib_message_from_pinterest_is_cut_not_worked_for_hours(tmp_path):
    # Before the fix, one such message held the run for hours and ignored SIGTERM. The
    # client reads answers up to 4 MiB: the message is as large as that allows.
    huge = "".join(_fill(unit, 500 * 1024) for unit in WORST_CASES.values())
    huge += f" Bearer {TOKEN} {EMAIL}"
    with FakePinterest(token=TOKEN) as api:
        api.script.append(Scripted(status=400, body={"code": 1, "message": huge}))
        cfg = {
            "ad_account_id": "549755885175",
            "access_token": TOKEN,
            "api_url": api.url,
            "streams": {"orders": MAPPING},
        }
        result = run_target(tmp_path, cfg, _lines(), env=DEBUG, timeout=120)
    assert result.returncode == 4, result.stderr[-2000:]
    stopped = [line for line in result.stderr.splitlines() if "Stopped: Pinterest" in line]
    assert stopped and all(len(line) < 1000 for line in stopped)
    dead = (tmp_path / "dead-letter.jsonl").read_text()
    _assert_clean(result.stdout, result.stderr, dead)
