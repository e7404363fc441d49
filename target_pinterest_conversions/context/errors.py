"""Errors that stop a run, each with the process exit code it maps to."""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_DELIVERY = 4
EXIT_INPUT = 5
EXIT_REJECTED = 6


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the setting."""


class InputError(ValueError):
    """The Singer input cannot be processed; the message names the line and the problem."""


class TooManyRejectedError(RuntimeError):
    """More of a stream's records were rejected than ``max_rejected_ratio`` allows."""
