"""The errors that stop a run, each class carrying its exit code. Pure: imports none of ours.

Every error that may end the command derives from :class:`TargetError`, one subclass per
exit code of the README's "Exit codes" table; the modules' own errors derive from these
(``MappingConfigError`` is a :class:`ConfigError`, ``BatchFileError`` an
:class:`InputError`, ``RequestRejected`` a :class:`DeliveryError`). The command maps an
exception to its exit code and message in one place, ``target.exit_for``. A termination
signal is not an error: it is ``context.interrupt.Interrupted``, with exit 130 or 143.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_DELIVERY = 4
EXIT_INPUT = 5
EXIT_REJECTED = 6
EXIT_SIGNALS = 7


class TargetError(Exception):
    """An error that stops the run with ``exit_code``; the message says what to change."""

    exit_code: ClassVar[int]


class ConfigError(TargetError, ValueError):
    """A setting is missing or invalid; the message names the setting."""

    exit_code = EXIT_CONFIG


class DeliveryError(TargetError, RuntimeError):
    """A request failed in a way retrying cannot fix; the message says what to do."""

    exit_code = EXIT_DELIVERY


class AuthError(DeliveryError):
    """Pinterest refused the token or the ad account (401 or 403)."""

    exit_code = EXIT_AUTH


class InputError(TargetError, ValueError):
    """The Singer input cannot be processed; the message names the line and the problem."""

    exit_code = EXIT_INPUT


class TooManyRejectedError(TargetError, RuntimeError):
    """More of a stream's records were rejected than ``max_rejected_ratio`` allows."""

    exit_code = EXIT_REJECTED


class SignalCoverageError(TargetError, RuntimeError):
    """Sent events carry a match signal less often than ``min_signal_coverage`` asks."""

    exit_code = EXIT_SIGNALS
