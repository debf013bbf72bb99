"""``scrapewatch replay`` and ``scrapewatch evaluate`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stream.cli import app
from stream.cli.replay import combined_parser

T0 = 1_700_000_040


def _events(path: Path) -> None:
    lines = []
    for m in range(4):  # 300 shoppers for 4 minutes: the population model warms up
        for u in range(300):
            for k in range(2):
                lines.append(
                    {
                        "ts": T0 + m * 60 + u * 0.1 + k,
                        "client_ip": f"10.0.{u % 250}.1",
                        "method": "GET",
                        "path": f"/products/{u * 7 + m + k}",
                        "status": 200,
                        "account": f"shopper{u}",
                    }
                )
    for i in range(400):  # then a loud profile walk: alerted in its first window
        lines.append(
            {
                "ts": T0 + 240 + i * 0.1,
                "client_ip": "6.6.6.6",
                "method": "GET",
                "path": f"/api/users/{1000 + i}/profile",
                "status": 200,
                "account": "crawler",
            }
        )
    text = "\n".join(json.dumps(e) for e in lines[:10])
    text += '\n{"ts": "yesterday"}\nnot json at all\n'
    text += "\n".join(json.dumps(e) for e in lines[10:]) + "\n"
    path.write_text(text)


def test_replay_writes_alerts_and_reports_bad_lines(tmp_path: Path) -> None:
    events, out = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    _events(events)
    result = CliRunner().invoke(
        app, ["replay", str(events), "--out", str(out), "--partitions", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "events: 2,800  bad lines: 2" in result.output
    assert "bad: bad_type x1" in result.output or "bad: bad_value x1" in result.output
    assert "bad: not_json x1" in result.output
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert alerts, "no alert for a 400-profiles-a-minute walk"
    assert {a["entity"] for a in alerts if a["entity_type"] == "account"} == {"crawler"}


def test_replay_rejects_an_unknown_format(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("")
    result = CliRunner().invoke(
        app, ["replay", str(events), "--out", str(tmp_path / "a"), "--format", "xml"]
    )
    assert result.exit_code != 0
    assert "expected 'jsonl' or 'combined', got 'xml'" in result.output


def test_replay_reads_combined_access_logs(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    rows = [
        f"203.0.113.5 - crawler [05/Jan/2026:00:{m:02d}:{s:02d} +0000] "
        f'"GET /api/users/{m * 100 + s}/profile HTTP/1.1" 200 1400 "-" "curl/8.5.0"'
        for m in range(3)
        for s in range(60)
    ]
    log.write_text("\n".join(rows) + "\nthis is not a log line\n")
    out = tmp_path / "alerts.jsonl"
    result = CliRunner().invoke(
        app, ["replay", str(log), "--out", str(out), "--format", "combined", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "events: 180  bad lines: 1" in result.output
    assert "bad: bad_log_line x1" in result.output


def test_combined_parser_maps_fields() -> None:
    parse = combined_parser()
    req = parse(
        b'198.51.100.7 - - [05/Jan/2026:10:00:00 +0100] "POST /login?next=/ HTTP/1.1" 401 95 '
        b'"https://shop.example/" "python-requests/2.32.3"\n'
    )
    assert req.account is None  # type: ignore[union-attr]
    assert req.ts == 1_767_603_600.0  # type: ignore[union-attr]
    assert (req.method, req.path, req.status) == ("POST", "/login", 401)  # type: ignore[union-attr]
    assert req.user_agent == "python-requests/2.32.3"  # type: ignore[union-attr]


def test_evaluate_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    events, labels, report = tmp_path / "e.jsonl", tmp_path / "l.jsonl", tmp_path / "r.json"
    sim = CliRunner().invoke(
        app,
        [
            "simulate",
            "--out",
            str(events),
            "--labels",
            str(labels),
            "--hours",
            "0.5",
            "--benign-accounts",
            "200",
            "--anonymous-visitors",
            "50",
        ],
    )
    assert sim.exit_code == 0, sim.output
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--events",
            str(events),
            "--labels",
            str(labels),
            "--json",
            str(report),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "burst_scraper" in result.output and "targets:" in result.output
    data = json.loads(report.read_text())
    assert set(data) >= {"scenarios", "benign", "targets", "targets_met", "replay"}
    assert data["scenarios"]["burst_scraper"]["detected"] is True
