"""One Output per kind, chosen in one place (delivery/outputs.py: output_kind)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import target_pinterest_conversions
from target_pinterest_conversions.conversion.checks import MAX_EVENT_AGE
from target_pinterest_conversions.delivery import outcome
from target_pinterest_conversions.delivery.client import DryRunSender, PinterestClient
from target_pinterest_conversions.delivery.outputs import (
    ApiOutput,
    CsvOutput,
    DryRunOutput,
    Output,
    RoutedDryRunOutput,
    RoutedOutput,
    output_kind,
)
from target_pinterest_conversions.run import output_for
from target_pinterest_conversions.settings import load_settings

PACKAGE = Path(target_pinterest_conversions.__file__).parent
STREAMS = {"orders": {"preset": "tap-shopify/orders"}}

CHOOSERS = {
    "delivery/outputs.py": "output_kind: the one place the settings choose an output",
    "settings.py": "parses and validates the output and dry_run settings",
    "conversion/checks.py": "the rules per output (window, match keys) that events pass",
}
"""Modules allowed to compare output kinds, and why."""


def settings(**config):
    return load_settings({"streams": STREAMS, "ad_account_id": "1", **config})


def output(**config):
    """The output of these settings, as the run and the command build it (run.output_for)."""
    return output_for(settings(**config))


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        ({"access_token": "t"}, ApiOutput),
        ({"access_token": "t", "output": "api"}, ApiOutput),
        ({"dry_run": True}, DryRunOutput),
        ({"output": "csv"}, CsvOutput),
        ({"access_token": "t", "output": "api+csv"}, RoutedOutput),
        ({"dry_run": True, "output": "api+csv"}, RoutedDryRunOutput),
    ],
)
def test_the_factory_gives_the_output_the_settings_ask_for(config, kind):
    made = output(**config)
    assert type(made) is kind
    assert isinstance(made, Output)
    chosen = settings(**config)
    assert output_kind(chosen.output, dry_run=chosen.dry_run) is kind


def test_each_output_says_where_events_go_and_what_it_takes(tmp_path):
    live = output(access_token="t", test_mode=True)
    dry = output(dry_run=True, dry_run_path=str(tmp_path / "dry.jsonl"))
    csv = output(output="csv", csv_path=str(tmp_path / "out"))
    assert live.mode == "LIVE: api.pinterest.com, ad account 1, test mode"
    assert dry.mode == f"DRY RUN: request bodies to {tmp_path / 'dry.jsonl'}"
    assert csv.mode == f"CSV: Ads Manager upload files to {tmp_path / 'out'}"
    assert [o.contacts_pinterest for o in (live, dry, csv)] == [True, False, False]
    assert [o.writes_files for o in (live, dry, csv)] == [False, True, True]
    assert live.nothing_sent == ""
    assert "dry_run is true" in dry.nothing_sent
    assert "output is csv" in csv.nothing_sent
    # The checks events pass, and so the window: the API's 7 days, the CSV's 28.
    assert [MAX_EVENT_AGE[o.rules] for o in (live, dry, csv)] == [7 * 86400] * 2 + [28 * 86400]
    assert (
        live.wider_windows(MAX_EVENT_AGE)
        == dry.wider_windows(MAX_EVENT_AGE)
        == [
            "use output: api+csv to send the recent events and write those up to 28 days old "
            "to Ads Manager's upload files",
            "or output: csv for Ads Manager's upload alone (events up to 28 days old)",
        ]
    )
    assert csv.wider_windows(MAX_EVENT_AGE) == []
    assert dry.paths() == [("dry_run_path", str(tmp_path / "dry.jsonl"))]
    assert live.paths() == csv.paths() == []
    assert (live.account("1"), live.account(None)) == ("1", None)
    assert (csv.account("1"), csv.account(None)) == ("", "")


def test_api_csv_is_the_api_output_and_the_csv_output_side_by_side(tmp_path):
    live = output(access_token="t", output="api+csv", csv_path=str(tmp_path / "out"))
    dry = output(
        dry_run=True,
        output="api+csv",
        csv_path=str(tmp_path / "out"),
        dry_run_path=str(tmp_path / "dry.jsonl"),
    )
    csv_mode = f"CSV: Ads Manager upload files to {tmp_path / 'out'}"
    assert live.mode == f"LIVE: api.pinterest.com, ad account 1; events over 7 days old: {csv_mode}"
    assert dry.mode == (
        f"DRY RUN: request bodies to {tmp_path / 'dry.jsonl'}; events over 7 days old: {csv_mode}"
    )
    assert [o.contacts_pinterest for o in (live, dry)] == [True, False]
    assert [o.writes_files for o in (live, dry)] == [False, True]
    assert "dry_run is true" in dry.nothing_sent
    # The wider of the two windows: older events go to the CSV, none further.
    assert MAX_EVENT_AGE[live.rules] == MAX_EVENT_AGE[dry.rules] == 28 * 86400
    assert live.wider_windows(MAX_EVENT_AGE) == []
    assert dry.paths() == [("dry_run_path", str(tmp_path / "dry.jsonl"))]
    # The CSV files are uploaded to the API's ad account: the events keep theirs.
    assert (live.account("1"), live.account(None)) == ("1", None)
    (tmp_path / "out").write_text("a file where the folder goes")
    assert live.path_problem() is not None
    client = live.new_sender("ua")
    try:
        assert isinstance(client, PinterestClient)
    finally:
        client.close()


def test_the_senders_match_the_outputs(tmp_path):
    live = output(access_token="t")
    dry = output(dry_run=True, dry_run_path=str(tmp_path / "dry.jsonl"))
    client, writer = live.new_sender("ua"), dry.new_sender("ua")
    try:
        assert isinstance(client, PinterestClient)
        assert isinstance(writer, DryRunSender)
    finally:
        client.close()
        writer.close()
    with pytest.raises(NotImplementedError):
        output(output="csv").new_sender("ua")
    # Pinterest's verdicts settle the API's requests; the dry run's are counted as written.
    assert live.settle is outcome.settle
    assert dry.settle.__func__ is Output.settle


def output_comparisons(source: str) -> list[int]:
    """Lines that compare output kinds: ``"api"``/``"csv"`` or ``output``/``dry_run``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(
                (isinstance(o, ast.Constant) and o.value in ("api", "csv"))
                or (isinstance(o, ast.Attribute) and o.attr == "output")
                or (isinstance(o, ast.Name) and o.id == "output")
                for o in operands
            ):
                found.append(node.lineno)
        elif isinstance(node, (ast.If, ast.IfExp, ast.While, ast.BoolOp, ast.UnaryOp)):
            tests = node.values if isinstance(node, ast.BoolOp) else [getattr(node, "test", None)]
            if isinstance(node, ast.UnaryOp):
                tests = [node.operand]
            for test in tests:
                if (isinstance(test, ast.Attribute) and test.attr == "dry_run") or (
                    isinstance(test, ast.Name) and test.id == "dry_run"
                ):
                    found.append(node.lineno)
    return found


def test_only_the_factory_compares_output_kinds():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in CHOOSERS:
            continue
        lines = output_comparisons(path.read_text(encoding="utf-8"))
        if lines:
            offenders[name] = lines
    assert offenders == {}, "compare output kinds only in outputs.output_kind"


@pytest.mark.parametrize(
    "code",
    [
        'if settings.output == "csv":\n    pass\n',
        'csv = self.run.settings.output == "csv"\n',
        "x = 'api' if kind != 'api' else None\n",
        "if settings.dry_run:\n    pass\n",
        "x = a if not settings.dry_run else b\n",
        "if dry_run and output:\n    pass\n",
    ],
)
def test_the_check_finds_a_comparison_added_elsewhere(code):
    assert output_comparisons(code)


def test_the_check_leaves_plain_uses_alone():
    code = 'settings.output\nf(output=self.output.rules, dry_run=settings.dry_run)\nx = "a.csv"\n'
    assert output_comparisons(code) == []


def test_the_allowed_modules_exist_and_do_compare():
    for name in CHOOSERS:
        assert output_comparisons((PACKAGE / name).read_text(encoding="utf-8")), name
