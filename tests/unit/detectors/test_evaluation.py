"""Evaluation of alerts against labels, on a hand-made case with a known answer."""

from __future__ import annotations

from typing import Any

from detectors.evaluation import Targets, check, evaluate, format_table, named_entities


def label(
    scenario: str, entity: str, start: float, malicious: bool, kind: str = "account"
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "entity_type": kind,
        "entity": entity,
        "malicious": malicious,
        "start": start,
        "end": start + 600,
        "campaign": None,
    }


def alert(
    kind: str, entity: str, at: float, severity: str = "high", members: list[str] | None = None
) -> dict[str, Any]:
    evidence = {"members": members} if members else {}
    return {
        "entity_type": kind,
        "entity": entity,
        "emitted_at": at,
        "severity": severity,
        "evidence": evidence,
    }


LABELS = [
    label("burst_scraper", "b1", 1000.0, True),
    label("low_and_slow", "s1", 1000.0, True),
    *[label("farm", f"f{i}", 1000.0 + i, True) for i in range(10)],
    label("credential_stuffing", "9.9.9.9", 2000.0, True, "ip"),
    *[label("benign", f"u{i}", 0.0, False) for i in range(300)],
    label("benign", "1.1.1.1", 0.0, False, "ip"),
    label("heavy_shopper", "h1", 0.0, False),
    label("uptime_probe", "2.2.2.2", 0.0, False, "ip"),
]


def test_report_and_targets() -> None:
    alerts = [
        alert("account", "b1", 1060.0),
        alert("account", "b1", 1120.0),
        alert("account", "s1", 1000.0 + 3700.0),  # too late
        alert("campaign", "c1", 1300.0, members=[f"f{i}" for i in range(8)] + ["u7"]),
        alert("ip", "9.9.9.9", 2060.0),
        alert("account", "h1", 500.0, severity="low"),
        alert("endpoint", "GET /x", 10.0),
    ]
    report = evaluate(LABELS, alerts)
    sc = report["scenarios"]
    assert sc["burst_scraper"] == {
        "malicious": True,
        "entities": 1,
        "named": 1,
        "coverage": 1.0,
        "detected": True,
        "time_to_detect": 60.0,
        "coverage_within": 1.0,
    }
    assert sc["low_and_slow"]["time_to_detect"] == 3700.0
    assert sc["farm"]["coverage_within"] == 0.8
    assert sc["farm"]["time_to_detect"] == 300.0
    assert sc["heavy_shopper"]["max_severity"] == "low"
    assert sc["uptime_probe"]["max_severity"] is None
    assert report["benign"]["named"] == 1
    assert report["benign"]["fp_rate"] == 1 / 301
    assert report["alerts_without_labelled_entity"] == 1
    assert check(report) == {
        "burst_scraper": True,
        "low_and_slow": False,
        "farm": True,
        "credential_stuffing": True,
        "benign_fp_rate": True,
        "decoys": True,
    }
    assert not check(report, Targets(benign_fp_rate=0.001))["benign_fp_rate"]
    table = format_table(report)
    assert "low_and_slow" in table and "low_and_slow MISSED" in table


def test_a_missing_scenario_or_a_loud_decoy_fails() -> None:
    report = evaluate(LABELS, [alert("ip", "2.2.2.2", 10.0, severity="medium")])
    verdict = check(report)
    assert not verdict["burst_scraper"] and not verdict["decoys"]
    assert named_entities(alert("endpoint", "GET /", 1.0)) == []
