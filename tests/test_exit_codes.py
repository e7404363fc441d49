"""One error root whose classes carry their exit code, mapped to exits in one place.

Every error of the package that may stop a run derives from ``errors.TargetError`` and
carries an exit code of the README's "Exit codes" table; ``target.exit_for`` is the one
place that turns an exception into the command's exit code and message.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import signal
from pathlib import Path

import pytest
from singer_sdk.exceptions import (
    ConfigValidationError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine

import target_pinterest_conversions
from target_pinterest_conversions import errors
from target_pinterest_conversions.context.files import OutputFileError
from target_pinterest_conversions.context.interrupt import Interrupted
from target_pinterest_conversions.delivery.client import RequestRejected
from target_pinterest_conversions.errors import (
    AuthError,
    ConfigError,
    InputError,
    SignalCoverageError,
    TargetError,
    TooManyRejectedError,
)
from target_pinterest_conversions.target import exit_for

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")

TREE = {
    "errors.ConfigError": 2,
    "mapping.spec.MappingConfigError": 2,
    "mapping.binding.MappingSchemaError": 2,
    "check.NothingChecked": 2,
    "errors.AuthError": 3,
    "errors.DeliveryError": 4,
    "delivery.client.RequestRejected": 4,
    "delivery.client.RetriesExhausted": 4,
    "delivery.client.RetryAfterTooLong": 4,
    "delivery.client.NotPinterest": 4,
    "delivery.client.AccountRefused": 4,
    "check.CheckFailed": 4,
    "errors.InputError": 5,
    "reader.UndecodableLineError": 5,
    "batch_files.BatchFileError": 5,
    "errors.TooManyRejectedError": 6,
    "errors.SignalCoverageError": 7,
    "context.files.OutputFileError": 1,
}
"""Every run-stopping error of the package, by module and name, with its exit code."""


def _documented_codes() -> set[int]:
    """The exit codes in the first column of the README's "Exit codes" table."""
    section = README.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    codes = set()
    for row in re.findall(r"^\| ([\d, ]+) \|", section, flags=re.MULTILINE):
        codes |= {int(code) for code in row.split(",")}
    return codes


def _error_classes() -> dict[str, type[TargetError]]:
    """Every subclass of TargetError the package defines, once each of its modules is imported."""
    package = target_pinterest_conversions
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
    found: dict[str, type[TargetError]] = {}
    todo = list(TargetError.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith(f"{package.__name__}."):
            found[f"{cls.__module__.split('.', 1)[1]}.{cls.__qualname__}"] = cls
    return found


def test_the_readme_table_lists_exit_0_to_7_and_the_signals():
    assert _documented_codes() == {0, 1, 2, 3, 4, 5, 6, 7, 130, 143}


def test_every_error_of_the_package_carries_a_documented_exit_code():
    documented = _documented_codes() - {errors.EXIT_OK}
    classes = _error_classes()
    for name, cls in classes.items():
        assert isinstance(cls.exit_code, int), name
        assert cls.exit_code in documented, f"{name}: exit {cls.exit_code} is not in the README"
    # A new error class, or one that moves or changes its code, is added here on purpose.
    assert {name: cls.exit_code for name, cls in classes.items()} == TREE


def test_each_exit_constant_is_in_the_readme_table():
    constants = {value for name, value in inspect.getmembers(errors) if name.startswith("EXIT_")}
    assert constants == {0, 1, 2, 3, 4, 5, 6, 7}
    assert constants <= _documented_codes()


def test_a_signal_exits_with_128_plus_its_number_as_documented():
    codes = {Interrupted(signum).exit_code for signum in (signal.SIGINT, signal.SIGTERM)}
    assert codes == {130, 143}
    assert codes <= _documented_codes()
    assert not issubclass(Interrupted, Exception)  # no ``except Exception`` swallows it


def test_the_builtin_bases_stay_for_code_that_catches_them():
    assert issubclass(ConfigError, ValueError) and issubclass(InputError, ValueError)
    assert issubclass(errors.DeliveryError, RuntimeError)
    assert issubclass(TooManyRejectedError, RuntimeError)
    assert issubclass(AuthError, errors.DeliveryError)  # exit 3, caught as a delivery error
    error = OutputFileError(28, "dead_letter_path: /x/d.jsonl: the disk is full")
    assert isinstance(error, OSError) and error.errno == 28


@pytest.mark.parametrize(
    ("error", "line", "expected"),
    [
        (
            ConfigError("streams: map at least one stream"),
            "?",
            (2, "Config error: streams: map at least one stream"),
        ),
        (
            AuthError("the access token was rejected (401)"),
            "?",
            (3, "Stopped: the access token was rejected (401)"),
        ),
        (RequestRejected("400: bad request"), "?", (4, "Stopped: 400: bad request")),
        (
            InputError("input line 3: not valid JSON"),
            "?",
            (5, "Stopped, bad input: input line 3: not valid JSON"),
        ),
        (TooManyRejectedError("too many"), "?", (6, "Stopped: too many")),
        (SignalCoverageError("too few emails"), "?", (7, "Stopped: too few emails")),
        (
            OutputFileError(28, "csv_path: /x: the disk is full"),
            "?",
            (1, "Stopped: csv_path: /x: the disk is full"),
        ),
        (
            ConfigValidationError("failed", errors=["a: x", "b: y"]),
            "?",
            (2, "Config error: a: x\nConfig error: b: y"),
        ),
        (
            RecordsWithoutSchemaException("no\n  schema"),
            4,
            (5, "Stopped, bad input: input line 4: no schema"),
        ),
        (MissingKeyPropertiesError("no key"), 5, (5, "Stopped, bad input: input line 5: no key")),
        (InvalidInputLine("not Singer"), 6, (5, "Stopped, bad input: input line 6: not Singer")),
        (Interrupted(signal.SIGTERM), "?", (143, "Interrupted by SIGTERM")),
        (Interrupted(signal.SIGINT), "?", (130, "Interrupted by SIGINT")),
        (KeyError("k"), "?", (1, "Stopped by an unexpected error (KeyError)")),
    ],
)
def test_exit_for_maps_each_error_to_its_code_and_message(error, line, expected):
    assert exit_for(error, line) == expected
