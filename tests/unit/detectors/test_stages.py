"""Account and endpoint stages on small hand-made streams with known answers."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from detectors.alerts import SEVERITIES
from detectors.config import DetectionConfig
from detectors.events import Request
from detectors.features import EndpointWindow
from detectors.stages import (
    AccountStage,
    EndpointPartial,
    EndpointStage,
    EntityState,
    WindowSummary,
)

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "stream" / "schemas" / "alert.v1.json").read_text()
)
FAST = DetectionConfig(
    extra={
        "population": {"warmup": 30},
        "enumeration": {"warmup": 30},
        "decider": {"warmup": 10_000, "cooldown_seconds": 600.0},
    }
)


def req(
    ts: float, account: str | None, path: str, status: int = 200, ip: str = "10.0.0.1"
) -> Request:
    return Request(ts=ts, client_ip=ip, method="GET", path=path, status=status, account=account)


NO_EARLY = DetectionConfig(extra={**FAST.extra, "account_policy": {"early_requests": 0}})


def background(minutes: int, users: int = 40, seed: int = 1) -> list[Request]:
    """Shoppers: a few product pages a minute, now and then one profile."""
    rng = random.Random(seed)
    out = []
    for m in range(minutes):
        for u in range(users):
            for _ in range(rng.randint(1, 4)):
                path = (
                    f"/api/users/{rng.randint(1, 10**6)}/profile"
                    if rng.random() < 0.1
                    else f"/products/{rng.randint(1, 10**5)}"
                )
                out.append(req(m * 60.0 + rng.uniform(0, 59), f"b{u}", path, ip=f"10.1.{u}.1"))
    return sorted(out, key=lambda r: r.ts)


def scraper(minute: int, n: int = 300, account: str = "bad") -> list[Request]:
    return [
        req(minute * 60.0 + i * 59.0 / n, account, f"/api/users/{5000 + i}/profile", ip="6.6.6.6")
        for i in range(n)
    ]


def run(stage: AccountStage, events: list[Request]) -> list[dict[str, Any]]:
    alerts = []
    for r in sorted(events, key=lambda r: r.ts):
        stage.ingest(r)
        alerts.extend(stage.advance().alerts)
    alerts.extend(stage.flush().alerts)
    return alerts


def test_windows_close_on_the_watermark_and_report_what_changed() -> None:
    stage = AccountStage(DetectionConfig(), partition=3)
    stage.ingest(req(1.0, "a", "/api/users/1/profile"))
    stage.ingest(req(2.0, None, "/", ip="10.9.9.9"))
    assert stage.open_windows() == 1
    assert stage.advance().windows_closed == 0
    stage.ingest(req(70.0, "a", "/cart"))  # watermark 60: window [0, 60) closes
    out = stage.advance()
    assert out.windows_closed == 1
    assert [e for e, _ in out.updated] == ["a", "10.9.9.9"]
    assert {e: s.entity_type for e, s in out.updated} == {"a": "account", "10.9.9.9": "ip"}
    assert sorted((p.endpoint, p.requests, p.source) for p in out.partials) == [
        ("GET /", 1, 3),
        ("GET /api/users/{id}/profile", 1, 3),
    ]
    assert stage.watermark == 60.0
    stage.ingest(req(30.0, "a", "/late"))
    assert stage.advance().late_events == 1
    out = stage.flush()
    assert out.windows_closed == 1 and stage.open_windows() == 0


def test_idle_wall_clock_closes_windows() -> None:
    stage = AccountStage(DetectionConfig(idle_timeout=5.0))
    stage.ingest(req(1.0, "a", "/"))
    assert stage.advance(now=100.0).windows_closed == 0
    assert stage.advance(now=106.0).windows_closed == 1


def test_a_scraper_is_alerted_with_reasons_evidence_and_a_valid_schema() -> None:
    stage = AccountStage(NO_EARLY)
    alerts = run(stage, background(40) + scraper(35))
    assert [a["entity"] for a in alerts] == ["bad"]
    [alert] = alerts
    jsonschema.validate(alert, SCHEMA)
    assert alert["detector"] == "population"
    assert alert["severity"] == "critical"
    assert alert["window"] == {"start": 2100.0, "end": 2160.0}
    assert alert["emitted_at"] == 2160.0
    assert alert["model_version"] == FAST.model_version
    assert any("touched 300 distinct sensitive resources" in r for r in alert["reasons"])
    assert "population p99 is" in alert["reasons"][0]
    ev = alert["evidence"]
    assert ev["top_endpoints"] == [{"endpoint": "GET /api/users/{id}/profile", "count": 300}]
    assert ev["resource_ids"][:3] == ["5000", "5001", "5002"]
    assert ev["client_ips"] == ["6.6.6.6"]
    assert alert["features"]["distinct_sensitive"]["value"] == 300.0
    assert alert["features"]["distinct_sensitive"]["baseline"] is not None


def test_cooldown_holds_repeats_unless_severity_rises() -> None:
    stage = AccountStage(FAST)
    alerts = run(stage, background(40) + scraper(35) + scraper(36) + scraper(37))
    # the first window only (its early alert, then the higher severity at its close)
    assert {a["window"]["start"] for a in alerts} == {2100.0}
    assert len({a["severity"] for a in alerts}) == len(alerts)


def test_flagged_windows_do_not_teach_and_allowlisted_entities_neither_alert_nor_teach() -> None:
    stage = AccountStage(FAST)
    run(stage, background(36))
    before = stage.models.population.n
    run(stage, scraper(40))
    assert stage.models.population.n == before  # the scraper's window did not teach

    allowed = AccountStage(FAST)
    allowed.models.decider.allowlist.add("account", "bad")
    assert run(allowed, background(36) + scraper(35)) == []
    learned = allowed.models.population.n
    run(allowed, scraper(40))
    assert allowed.models.population.n == learned
    assert all(s.entity != "bad" for s in allowed.flush().summaries)


def test_loader_restores_state_and_state_pickles_with_a_version() -> None:
    stage = AccountStage(DetectionConfig())
    run(stage, [req(1.0, "a", "/api/users/1/profile"), req(2.0, "a", "/api/users/2/profile")])
    saved = pickle.dumps(stage.states["a"])
    asked: list[str] = []

    def loader(entity: str) -> EntityState | None:
        asked.append(entity)
        return pickle.loads(saved) if entity == "a" else None

    restored = AccountStage(DetectionConfig(), loader=loader)
    out = AccountStage.flush(restored)
    assert out.updated == []
    restored.ingest(req(100.0, "a", "/api/users/3/profile"))
    restored.ingest(req(101.0, "z", "/"))
    restored.ingest(req(101.5, "a", "/api/users/4/profile"))
    out = restored.flush()
    assert asked == ["a", "z"]  # once per entity
    state = dict(out.updated)["a"]
    assert state.horizon.last_seen == 0.0  # start of the latest 15-minute bucket
    h = state.horizon
    feats, _ = h.update(120.0, set(), set(), 0)
    assert feats["distinct_sensitive_24h"] == 4.0  # 2 restored + 2 new
    restore, (fields,) = state.__reduce__()
    with pytest.raises(ValueError, match="EntityState version 99 cannot be loaded"):
        restore((99, *fields[1:]))
    old_form = {"state_version": 1, "entity_type": "account", "baseline": None, "horizon": h}
    legacy = EntityState.__new__(EntityState)
    legacy.__setstate__(dict(old_form))  # the dict form of earlier releases still loads
    assert legacy.horizon is h
    with pytest.raises(ValueError, match="EntityState version 99 cannot be loaded"):
        EntityState.__new__(EntityState).__setstate__(old_form | {"state_version": 99})
    pickle.loads(pickle.dumps(restored.models))  # the shared models pickle too


def test_idle_entities_expire_after_the_ttl() -> None:
    stage = AccountStage(DetectionConfig(entity_ttl=600.0))
    stage.ingest(req(1.0, "old", "/"))
    stage.ingest(req(61.0, "new", "/"))
    stage.ingest(req(900.0, "new", "/"))
    stage.ingest(req(1000.0, "new", "/"))
    out = stage.advance()
    assert out.expired == ["old"]
    assert list(stage.states) == ["new"]


def _partial(
    source: int, endpoint: str, start: float, top: tuple[tuple[str, int], ...], requests: int
) -> EndpointPartial:
    w = EndpointWindow()
    for entity, n in top:
        for i in range(n):
            w.add(entity, (f"{entity}-{i}",))
    w.requests = requests
    return w.partial(
        endpoint=endpoint, start=start, end=start + 60.0, source=source, top_k=5, lg_k=8
    )


def _endpoint_inputs() -> list[EndpointPartial]:
    parts = []
    for m in range(30):
        for s in range(2):
            parts.append(_partial(s, "GET /products/{id}", m * 60.0, ((f"u{s}", 10),), 10))
    parts.append(_partial(0, "GET /products/{id}", 1800.0, (("u0", 10),), 10))
    parts.append(_partial(1, "GET /products/{id}", 1800.0, (("crawler", 900),), 900))
    return parts


def _drive(parts: list[EndpointPartial]) -> list[dict[str, Any]]:
    stage = EndpointStage(DetectionConfig(endpoint_min_requests=5), sources=2)
    for p in parts:
        stage.add_partial(p)
    alerts = stage.advance()
    assert alerts == []  # no source watermark yet: nothing may close
    stage.source_watermark(0, 1900.0)
    assert stage.advance() == []  # source 1 has not passed anything
    stage.source_watermark(1, 1860.0)
    return stage.advance()


def test_endpoint_stage_waits_for_every_source_and_names_top_contributors() -> None:
    [alert] = _drive(_endpoint_inputs())
    jsonschema.validate(alert, SCHEMA)
    assert alert["entity_type"] == "endpoint"
    assert alert["entity"] == "GET /products/{id}"
    assert alert["window"] == {"start": 1800.0, "end": 1860.0}
    assert alert["evidence"]["top_accounts"][0] == {"entity": "crawler", "count": 900}
    assert "received 910 requests" in alert["reasons"][0] or "served" in alert["reasons"][0]
    assert any("top contributors: crawler (900)" in r for r in alert["reasons"])


def test_endpoint_stage_is_independent_of_arrival_order_and_duplicates() -> None:
    parts = _endpoint_inputs()
    shuffled = parts[:]
    random.Random(5).shuffle(shuffled)
    assert _drive(shuffled) == _drive(parts)
    assert _drive(parts + parts[-2:]) == _drive(parts)


def test_campaign_alert_lists_members() -> None:
    stage = EndpointStage(DetectionConfig(), sources=1)
    summaries = [
        WindowSummary(
            f"bot{i}",
            "account",
            m * 60.0,
            m * 60.0 + 60.0,
            "GET /api/users/{id}/profile",
            2.0,
            2.0,
            1.0,
            None,
            ("198.51.100.0/24",),
            f"agent/{i}",
        )
        for m in range(4)
        for i in range(8)
    ]
    for s in reversed(summaries):
        stage.add_summary(s)
    stage.source_watermark(0, 240.0)
    [alert] = stage.advance()
    jsonschema.validate(alert, SCHEMA)
    assert alert["entity_type"] == "campaign"
    assert alert["evidence"]["members"] == [f"bot{i}" for i in range(8)]
    assert "8 accounts walked GET /api/users/{id}/profile alike" in alert["reasons"][0]
    assert "ip_prefix=198.51.100.0/24" in alert["reasons"][0]


def test_a_burst_is_alerted_early_and_again_only_when_its_severity_rises() -> None:
    stage = AccountStage(FAST)
    events = sorted(background(40) + scraper(35), key=lambda r: r.ts)
    early = []
    for r in events:
        stage.ingest(r)
        out = stage.advance()
        early.extend(a for a in out.alerts if a["emitted_at"] < a["window"]["end"])
        if early:
            break
    # alerted while its window [2100, 2160) is still open, at the 64th request (the
    # previous window had closed: the watermark was past the window start)
    assert r.ts < 2160.0
    [first] = early
    jsonschema.validate(first, SCHEMA)
    assert (first["entity"], first["detector"]) == ("bad", "population")
    assert first["features"]["requests"]["value"] == 64.0
    # the evidence is the window at its 64th request, like the features: not what came after
    assert first["evidence"]["top_endpoints"] == [
        {"endpoint": "GET /api/users/{id}/profile", "count": 64}
    ]
    assert first["emitted_at"] == r.ts
    rest = run(stage, [e for e in events if e.ts > r.ts])
    severities = [a["severity"] for a in [first, *rest] if a["entity"] == "bad"]
    ranks = [SEVERITIES.index(s) for s in severities]
    assert ranks == sorted(set(ranks)), severities  # each repeat is a higher severity
    assert severities[-1] == "critical"


def test_entity_state_records_round_trip_and_old_pickles_still_read() -> None:
    from detectors.baseline import SelfBaseline
    from detectors.stages import entity_state

    stage = AccountStage(DetectionConfig())
    run(stage, [req(float(t), "a", f"/api/users/{t}/profile") for t in range(12)])
    state = stage.states["a"]
    state.baseline = SelfBaseline()
    for n in range(10):
        state.baseline.learn_one({"requests": 5.0 + n, "sequential_walk": 0.5})
    x = {"requests": 40.0, "sequential_walk": 1.0}

    record = state.to_record()
    blob = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    back = entity_state(pickle.loads(blob))
    assert (back.entity_type, back.horizon.hour, back.horizon.day) == (
        state.entity_type,
        state.horizon.hour,
        state.horizon.day,
    )
    assert back.baseline is not None and back.baseline.n == 10
    assert back.baseline.score_one(x) == state.baseline.score_one(x)
    assert repr(back.baseline.to_record()) == repr(state.baseline.to_record())  # NaN != NaN
    # smaller than the pickled object, which names its classes and functions
    assert len(blob) < len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    # what earlier releases wrote (the pickled object) reads the same
    assert entity_state(pickle.loads(pickle.dumps(state))).horizon.hour == state.horizon.hour
    with pytest.raises(ValueError, match="EntityState version 99 cannot be loaded"):
        entity_state((record[0], 99, *record[2:]))
    with pytest.raises(ValueError, match="not an entity state: dict"):
        entity_state({"entity_type": "account"})
