"""``scrapewatch simulate`` writes events in the request contract and a labels file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from detectors.events import Request
from stream.cli import app
from stream.events import parse_event

_SMALL = ["--hours", "0.1", "--benign-accounts", "30", "--anonymous-visitors", "10"]


def _simulate(tmp_path: Path, *extra: str) -> tuple[int, str, Path, Path]:
    out, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    args = ["simulate", "--out", str(out), "--labels", str(labels), *_SMALL, *extra]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output, out, labels


def test_simulate_writes_events_and_labels(tmp_path: Path) -> None:
    code, output, out, labels = _simulate(tmp_path, "--seed", "3")
    assert code == 0, output
    lines = out.read_bytes().splitlines()
    assert len(lines) > 1000
    assert all(isinstance(parse_event(line), Request) for line in lines)
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    scenarios = {row["scenario"] for row in rows}
    assert {"benign", "burst_scraper", "farm", "uptime_probe"} <= scenarios
    assert set(rows[0]) == {"scenario", "entity_type", "entity", "malicious", "start", "end",
                            "campaign"}  # fmt: skip
    assert f"events: {len(lines):,}" in output
    assert "farm" in output and "entities" in output


def test_simulate_is_reproducible_and_scenarios_switch_off(tmp_path: Path) -> None:
    (a := tmp_path / "a").mkdir()
    (b := tmp_path / "b").mkdir()
    assert _simulate(a, "--scenarios", "none")[0] == 0
    assert _simulate(b, "--scenarios", "none")[0] == 0
    assert (a / "events.jsonl").read_bytes() == (b / "events.jsonl").read_bytes()
    rows = [json.loads(line) for line in (a / "labels.jsonl").read_text().splitlines()]
    assert {row["scenario"] for row in rows} == {"benign"} and len(rows) == 40


def test_simulate_refuses_an_unknown_scenario(tmp_path: Path) -> None:
    code, output, out, _ = _simulate(tmp_path, "--scenarios", "farm,ddos")
    assert code == 2
    assert "unknown scenario(s) ddos" in output
    assert not out.exists()


def test_simulate_help_lists_the_scenarios() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "--scenarios" in result.output and "credential_stuffing" in result.output
