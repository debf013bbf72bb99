"""Scoring a replay against the simulator's labels: detection, delay, coverage, false alarms.

An alert *names* an entity when it is about that account or IP, or lists it as a campaign
member. Per malicious scenario: detected or not, time to detect (first naming alert's
``emitted_at`` minus the scenario start) and coverage (share of the scenario's entities
named). False positives: benign entities named at all; decoys: the highest severity that
named them. ``check`` compares the report with the issue's targets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from detectors.alerts import SEVERITIES

__all__ = ["Targets", "check", "evaluate", "format_table", "named_entities"]

_DECOYS = ("heavy_shopper", "uptime_probe", "flash_sale")


@dataclass(frozen=True, slots=True)
class Targets:
    """The issue's targets (delays in seconds of event time)."""

    burst_scraper_delay: float = 120.0
    low_and_slow_delay: float = 3600.0
    farm_coverage: float = 0.8
    farm_delay: float = 1800.0
    credential_stuffing_delay: float = 120.0
    benign_fp_rate: float = 0.005
    decoy_max_severity: str = "low"


def named_entities(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(entity_type, entity)`` pairs an alert names (campaign members as accounts)."""
    etype = alert["entity_type"]
    if etype in ("account", "ip"):
        return [(etype, alert["entity"])]
    if etype == "campaign":
        return [("account", m) for m in alert.get("evidence", {}).get("members", [])]
    return []


def evaluate(
    labels: Iterable[Mapping[str, Any]],
    alerts: Iterable[Mapping[str, Any]],
    coverage_within: float = 1800.0,
) -> dict[str, Any]:
    """Per-scenario detection report (JSON-able)."""
    label_of: dict[tuple[str, str], Mapping[str, Any]] = {}
    for lab in labels:
        label_of[(lab["entity_type"], lab["entity"])] = lab
    first_named: dict[tuple[str, str], float] = {}
    worst: dict[tuple[str, str], int] = {}
    unlabelled = 0
    for alert in alerts:
        names = named_entities(alert)
        if not names:
            unlabelled += 1
        rank = SEVERITIES.index(alert["severity"])
        for key in names:
            t = float(alert["emitted_at"])
            if key not in first_named or t < first_named[key]:
                first_named[key] = t
            worst[key] = max(worst.get(key, -1), rank)
    by_scenario: dict[str, list[Mapping[str, Any]]] = {}
    for lab in label_of.values():
        by_scenario.setdefault(lab["scenario"], []).append(lab)
    scenarios: dict[str, Any] = {}
    for name in sorted(by_scenario):
        members = by_scenario[name]
        keys = [(m["entity_type"], m["entity"]) for m in members]
        named = [k for k in keys if k in first_named]
        start = min(float(m["start"]) for m in members)
        row: dict[str, Any] = {
            "malicious": bool(members[0]["malicious"]),
            "entities": len(keys),
            "named": len(named),
            "coverage": len(named) / len(keys) if keys else 0.0,
        }
        if row["malicious"]:
            first = min((first_named[k] for k in named), default=None)
            row["detected"] = first is not None
            row["time_to_detect"] = None if first is None else first - start
            within = [k for k in named if first_named[k] - start <= coverage_within]
            row["coverage_within"] = len(within) / len(keys) if keys else 0.0
        else:
            ranks = [worst[k] for k in named]
            row["max_severity"] = SEVERITIES[max(ranks)] if ranks else None
        scenarios[name] = row
    benign = by_scenario.get("benign", [])
    benign_accounts = [b for b in benign if b["entity_type"] == "account"]
    named_accounts = [b for b in benign_accounts if (b["entity_type"], b["entity"]) in first_named]
    named_benign = [b for b in benign if (b["entity_type"], b["entity"]) in first_named]
    return {
        "scenarios": scenarios,
        "benign": {
            "entities": len(benign),
            "named": len(named_benign),
            "fp_rate": len(named_benign) / len(benign) if benign else 0.0,
            "accounts": len(benign_accounts),
            "accounts_named": len(named_accounts),
            "account_fp_rate": len(named_accounts) / len(benign_accounts)
            if benign_accounts
            else 0.0,
        },
        "alerts_without_labelled_entity": unlabelled,
        "coverage_within_seconds": coverage_within,
    }


def check(report: Mapping[str, Any], targets: Targets | None = None) -> dict[str, bool]:
    """Which targets the report meets (a missing scenario fails its target)."""
    t = targets or Targets()
    sc = report["scenarios"]

    def delay_ok(name: str, limit: float) -> bool:
        row = sc.get(name)
        return bool(row and row["detected"] and row["time_to_detect"] <= limit)

    farm = sc.get("farm")
    limit = SEVERITIES.index(t.decoy_max_severity)
    decoys = [sc[d] for d in _DECOYS if d in sc]
    return {
        "burst_scraper": delay_ok("burst_scraper", t.burst_scraper_delay),
        "low_and_slow": delay_ok("low_and_slow", t.low_and_slow_delay),
        "farm": bool(farm and farm["coverage_within"] >= t.farm_coverage),
        "credential_stuffing": delay_ok("credential_stuffing", t.credential_stuffing_delay),
        "benign_fp_rate": report["benign"]["fp_rate"] <= t.benign_fp_rate,
        "decoys": all(
            d["max_severity"] is None or SEVERITIES.index(d["max_severity"]) <= limit
            for d in decoys
        ),
    }


def format_table(report: Mapping[str, Any], targets: Targets | None = None) -> str:
    """The report as a plain-text table, targets at the end."""
    rows = [("scenario", "kind", "entities", "named", "detected", "time to detect", "notes")]
    for name, r in report["scenarios"].items():
        if r["malicious"]:
            ttd = r["time_to_detect"]
            delay = "-" if ttd is None else f"{ttd:.0f} s"
            note = f"coverage {r['coverage']:.0%} ({r['coverage_within']:.0%} in 30 min)"
            rows.append((name, "attack", str(r["entities"]), str(r["named"]),
                         "yes" if r["detected"] else "NO", delay, note))  # fmt: skip
        else:
            kind = "benign" if name == "benign" else "decoy"
            note = f"max severity {r['max_severity'] or '-'}"
            rows.append((name, kind, str(r["entities"]), str(r["named"]), "-", "-", note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    b = report["benign"]
    lines.append("")
    lines.append(
        f"benign entities alerted: {b['named']}/{b['entities']} ({b['fp_rate']:.2%}); "
        f"benign accounts: {b['accounts_named']}/{b['accounts']} ({b['account_fp_rate']:.2%})"
    )
    verdict = check(report, targets)
    lines.append(
        "targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in verdict.items())
    )
    return "\n".join(lines)


def targets_dict(targets: Targets | None = None) -> dict[str, Any]:
    """The targets as JSON."""
    return asdict(targets or Targets())
