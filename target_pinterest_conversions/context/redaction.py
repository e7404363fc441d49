"""Keeps the access token and personal data out of every log line and every file.

Two layers:

- At the boundary. Text that comes from the network (Pinterest's messages, a gateway's
  or proxy's error page, which may echo the ``Authorization`` header) is redacted by the
  client as it is read, with a :class:`Redactor` that knows the token; so the dead-letter
  reasons, the summary and exception messages never hold it in the first place.
- As a backstop. :func:`install` redacts every log record as it is created (a log record
  factory, so it holds for every logger and every handler, including handlers of named
  loggers that do not propagate to the root), its exception chain included, which the
  SDK's ``StructuredFormatter`` formats itself; and the dead-letter and summary writers
  pass their text through :func:`scrub`.

A secret of :data:`SUBSTRING_MIN` characters or more is masked wherever it occurs (it
cannot be part of an ordinary word); a shorter one only as a whole token, a run of
token characters equal to it, so a test token ``x`` never turns ``max_tries`` or
``x-ray`` into nonsense. Email addresses, formatted phone numbers and ``Bearer``
credentials are masked too.

The work is bounded: every pattern runs in linear time, and a text longer than
:data:`MAX_CHARS` (a 4 MiB error page, a runaway value) is cut to that many characters
before it is redacted, ending with a note that says it was cut.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

MASK = "[redacted]"
TOKEN_CHARS = "A-Za-z0-9._~+/=-"  # noqa: S105 - a character class, not a password
"""The characters of an OAuth bearer token (RFC 6750 ``b64token``)."""
SUBSTRING_MIN = 16
"""Secrets at least this long are masked anywhere, even inside a longer run of text
(``%20<token>`` in an echoed URL); shorter ones only as whole tokens."""

# Each pattern runs in linear time: a match may only start where its first run of
# characters starts (the lookbehinds), so no run is rescanned from each of its positions,
# and no quantifier nests another that could give the same text back two ways.
_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d[\d ().-]{6,}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w.])",
)
_BEARER = re.compile(rf"(?i)\b(bearer\s+)[{TOKEN_CHARS}]+")
MAX_CHARS = 65_536
"""Texts longer than this are cut before redacting: the rest is never read, let alone
logged. Tracebacks and Pinterest's messages are far shorter."""
_CUT_ROOM = 64  # room for the note, so a cut text stays within MAX_CHARS and is not recut
_CUT_TAIL = 256  # an email address is at most 254 characters
_MEMO_MAX_CHARS = 2000  # longer texts are rare (tracebacks) and not worth keeping
_SKIPPED_LOGGERS = ("singer_sdk.metrics",)
"""Metric points: numbers and tags only, and the SDK's formatter reads their arguments."""
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
) | {"message", "asctime", "taskName"}


class Redactor:
    """Masks the given secrets, email addresses, phone numbers and bearer credentials."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.secrets = tuple(unique)
        long = [re.escape(s) for s in unique if len(s) >= SUBSTRING_MIN]
        short = [re.escape(s) for s in unique if len(s) < SUBSTRING_MIN]
        parts = list(long)
        if short:
            # Whole tokens only: not preceded or followed by another token character.
            parts.append(f"(?<![{TOKEN_CHARS}])(?:{'|'.join(short)})(?![{TOKEN_CHARS}])")
        self._any = re.compile("|".join(parts)) if parts else None
        self._long = re.compile("|".join(long)) if long else None
        self._memo = functools.lru_cache(maxsize=4096)(self._redact)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret and piece of personal data masked.

        The result is at most :data:`MAX_CHARS` long; a longer one is cut, and says so.
        """
        if not text:
            return text
        text = str(text)
        if len(text) > MAX_CHARS:
            return _with_note(self._redact(self._cut(text)), len(text))
        # Pinterest repeats its messages across events: each distinct one is worked once.
        clean = (self._memo if len(text) <= _MEMO_MAX_CHARS else self._redact)(text)
        # Masks are longer than short emails: a text of them may grow past the bound.
        return clean if len(clean) <= MAX_CHARS else _with_note(clean, len(text))

    def _cut(self, text: str) -> str:
        """The start of ``text``, without a secret or address the cut runs through.

        A token, email address or phone number cut in two would no longer be matched
        whole, and its first half would be shown: the last word before the cut goes.
        """
        kept = text[: MAX_CHARS - _CUT_ROOM]
        end = len(kept)
        while end > len(kept) - _CUT_TAIL and not kept[end - 1].isspace():
            end -= 1
        kept = kept[:end]  # without a space in the tail, the whole tail goes
        for secret in self.secrets:  # a secret longer than the tail dropped above
            for end in range(len(secret) - 1, 0, -1):
                if kept.endswith(secret[:end]):
                    kept = kept[:-end]
                    break
        return kept

    def template(self, text: str) -> str:
        """Redact a log format string: like calling, but short secrets are left alone.

        A format string is code, not data (the data is in its arguments, redacted
        whole); masking a one-letter test token in it would only mangle the wording.
        """
        if len(text) > MAX_CHARS:
            return self(text)  # a runaway format string: cut and redacted like data
        if self._long is not None:
            text = self._long.sub(MASK, text)
        return _mask_patterns(text)

    def _redact(self, text: str) -> str:
        if self._any is not None:
            text = self._any.sub(MASK, text)
        return _mask_patterns(text)


def _with_note(clean: str, total: int) -> str:
    """Cut redacted ``clean`` to the bound, with a note saying so (it fits the bound)."""
    return f"{clean[: MAX_CHARS - _CUT_ROOM]} [cut: the text had {total} characters]"


def _mask_patterns(text: str) -> str:
    text = _BEARER.sub(rf"\1{MASK}", text)
    text = _EMAIL.sub("[redacted-email]", text)
    return _PHONE.sub("[redacted-phone]", text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with secrets, emails, phone numbers and bearer tokens masked."""
    return Redactor(secrets)(text)


_current = Redactor()
_lock = threading.Lock()
_base_factory: Callable[..., logging.LogRecord] | None = None


def scrub(text: str) -> str:
    """Redact ``text`` with the secrets of the running target (see :func:`install`)."""
    return _current(text)


def scrub_data(value: Any) -> Any:
    """Return a JSON-like ``value`` with every string in it, keys included, scrubbed."""
    return _scrub_value(value, _current)


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not break logging
        return f"<{type(value).__name__} that cannot be shown>"


def _clean_args(msg: str, args: Any, redactor: Redactor) -> str | None:
    """Format ``msg`` with redacted arguments; ``None`` when that cannot be done."""

    def clean(arg: object) -> object:
        if isinstance(arg, (int, float, bool)) or arg is None:
            return arg
        text = _text(arg)
        clean_text = redactor(text)
        if isinstance(arg, str) or clean_text != text:
            return clean_text
        return arg

    if isinstance(args, dict):
        cleaned: Any = {k: clean(v) for k, v in args.items()}
    else:
        cleaned = tuple(clean(a) for a in args)
    try:
        text: str = redactor.template(msg) % cleaned
    except (TypeError, ValueError, KeyError):
        return None
    return text


def _next_in_chain(exc: BaseException) -> tuple[BaseException | None, bool]:
    """The exception printed under ``exc``, and whether it is its cause."""
    if exc.__cause__ is not None:
        return exc.__cause__, True
    if exc.__context__ is not None and not exc.__suppress_context__:
        return exc.__context__, False
    return None, False


def _chain_is_clean(exc: BaseException, redactor: Redactor) -> bool:
    """Tell whether every text in the printed chain is clean and nothing hidden hangs on.

    The SDK's ``StructuredFormatter`` prints ``__context__`` even after ``raise ... from
    None``, which hides it on purpose (often because its text echoes input).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = _text(current)
        notes = getattr(current, "__notes__", None) or []
        if redactor(text) != text or any(redactor(_text(n)) != _text(n) for n in notes):
            return False
        if current.__cause__ is None and current.__suppress_context__ and current.__context__:
            return False
        current, _ = _next_in_chain(current)
    return True


def _twin(exc: BaseException, redactor: Redactor, depth: int = 0) -> BaseException:
    """A stand-in for ``exc`` with the same name, module and traceback, and clean text.

    Its cause or (printed) context is a stand-in too; a suppressed context is dropped.
    """
    cls = type(exc)
    twin_cls = type(
        cls.__name__,
        (Exception,),
        {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
    )
    twin: BaseException = twin_cls(redactor(_text(exc))).with_traceback(exc.__traceback__)
    notes = getattr(exc, "__notes__", None)
    if notes:
        # __notes__ is typed from Python 3.11 on; 3.10 sets it like any attribute.
        twin.__notes__ = [redactor(_text(n)) for n in notes]  # type: ignore[attr-defined]
    following, is_cause = _next_in_chain(exc)
    if following is not None and depth < 20 and following is not exc:
        if is_cause:
            twin.__cause__ = _twin(following, redactor, depth + 1)
        else:
            twin.__context__ = _twin(following, redactor, depth + 1)
    twin.__suppress_context__ = exc.__suppress_context__
    return twin


def _clean_exc_info(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
    redactor: Redactor,
) -> tuple[type[BaseException], BaseException, TracebackType | None]:
    exc = exc_info[1]
    if exc is None or _chain_is_clean(exc, redactor):
        return exc_info
    twin = _twin(exc, redactor)
    return type(twin), twin, exc_info[2]


def redact_record(record: logging.LogRecord, redactor: Redactor) -> None:
    """Redact a log record's message, exception chain and stack in place.

    With arguments, they are redacted (they are the data) and the format string is
    kept; a message without arguments is redacted whole.
    """
    if record.name.startswith(_SKIPPED_LOGGERS):
        return
    message: str | None = None
    if record.args and isinstance(record.msg, str):
        message = _clean_args(record.msg, record.args, redactor)
    if message is None:
        try:
            message = redactor(record.getMessage())
        except Exception:  # a bad format string is logging's to report, not ours
            message = redactor(_text(record.msg))
    record.msg, record.args = message, ()
    if isinstance(record.exc_info, tuple) and record.exc_info[1] is not None:
        record.exc_info = _clean_exc_info(record.exc_info, redactor)
        # Rendered now from the clean chain, for formatters that print exc_text; the
        # SDK's StructuredFormatter renders exc_info itself, which is clean too.
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        record.exc_text = redactor(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor(record.stack_info)


def _scrub_extra(record: logging.LogRecord, redactor: Redactor) -> None:
    """Redact the fields given with ``extra=``: the SDK's StructuredFormatter writes them."""
    for name, value in list(record.__dict__.items()):
        if name not in _RECORD_ATTRIBUTES:
            record.__dict__[name] = _scrub_value(value, redactor)


def _scrub_value(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, dict):
        return {_scrub_value(k, redactor): _scrub_value(v, redactor) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value(v, redactor) for v in value]
    return value


class _ExtraFilter(logging.Filter):
    """Scrubs ``extra`` fields, set after the record factory ran, with the run's secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(_SKIPPED_LOGGERS):
            _scrub_extra(record, _current)
        return True


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = (_base_factory or logging.LogRecord)(*args, **kwargs)
    redact_record(record, _current)
    return record


def install(secrets: Iterable[str] = ()) -> Redactor:
    """Redact every log record from now on with ``secrets`` (replacing earlier ones).

    The record factory covers every logger and handler, whatever the logging config;
    a filter on each handler configured so far also scrubs ``extra`` fields, which are
    set after a record is created. Returns the redactor, also used by :func:`scrub`.
    """
    global _current, _base_factory  # one redactor per process, as logging is per process
    with _lock:
        _current = Redactor(secrets)
        if _base_factory is None:
            _base_factory = logging.getLogRecordFactory()
            logging.setLogRecordFactory(_record_factory)
        loggers = [logging.getLogger()]
        loggers += [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if not any(isinstance(f, _ExtraFilter) for f in handler.filters):
                    handler.addFilter(_ExtraFilter())
    return _current
