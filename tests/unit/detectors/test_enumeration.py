"""EnumerationDetector: the slow crawler against the population over an hour."""

from __future__ import annotations

import random

import pytest

from detectors.decision import DEFAULT_MIN_THRESHOLDS, Calibrator
from detectors.enumeration import EnumerationDetector


def _human(rng: random.Random) -> dict[str, float]:
    sens_1h = float(rng.choice([0, 0, 1, 1, 2, 3, 4, 6]) + (rng.random() < 0.01) * 8)
    return {
        "distinct_sensitive_1h": sens_1h,
        "distinct_sensitive_24h": sens_1h * rng.uniform(1.0, 3.0),
        "distinct_resources_1h": float(rng.randint(0, 80)),
        "sensitive_requests_1h": sens_1h * rng.uniform(1.0, 4.0),
        "active_windows_1h": float(rng.randint(1, 30)),
    }


def _slow_crawler(minutes: int) -> dict[str, float]:
    """One request every 10 s, each a new user id on a sensitive route."""
    return {
        "distinct_sensitive_1h": 6.0 * min(minutes, 60),
        "distinct_sensitive_24h": 6.0 * minutes,
        "distinct_resources_1h": 6.0 * min(minutes, 60),
        "sensitive_requests_1h": 6.0 * min(minutes, 60),
        "active_windows_1h": float(min(minutes, 60)),
    }


HEAVY_HUMAN = {
    "distinct_sensitive_1h": 4.0,
    "distinct_sensitive_24h": 12.0,
    "distinct_resources_1h": 600.0,
    "sensitive_requests_1h": 150.0,
    "active_windows_1h": 60.0,
}


def test_slow_crawler_caught_within_an_hour_and_heavy_humans_not() -> None:
    rng = random.Random(2024)
    det = EnumerationDetector()
    cal = Calibrator(min_threshold=DEFAULT_MIN_THRESHOLDS["enumeration"], warmup=1000)
    detected_at = None
    for minute in range(1, 121):
        for _ in range(200):  # the population's windows this minute
            x = _human(rng)
            cal.update(det.score_one(x))
            det.learn_one(x)
        assert det.score_one(HEAVY_HUMAN) < 0.5 * cal.threshold
        score = det.score_one(_slow_crawler(minute))
        cal.update(score)
        if score >= cal.threshold:
            detected_at = detected_at or minute
        else:
            det.learn_one(_slow_crawler(minute))  # unflagged windows do teach
    assert detected_at is not None
    assert detected_at <= 60
    assert det.score_one(_slow_crawler(60)) > 3.0


def test_baselines_report_population_p99_per_horizon() -> None:
    rng = random.Random(5)
    det = EnumerationDetector(warmup=10)
    for _ in range(3000):
        det.learn_one(_human(rng))
    base = det.baselines()
    assert set(base) == {
        "distinct_sensitive_1h",
        "distinct_sensitive_24h",
        "distinct_resources_1h",
        "sensitive_requests_1h",
    }
    assert base["distinct_sensitive_1h"] == 20.0  # humans' p99 (~14) is below the floor


def test_volume_alone_counts_less() -> None:
    det = EnumerationDetector(warmup=0)
    only_volume = det.score_one({"distinct_resources_1h": 201.0 * 4 - 1})  # 4x the floor
    only_profiles = det.score_one({"distinct_sensitive_1h": 21.0 * 4 - 1})
    assert only_volume == pytest.approx(0.6)
    assert only_profiles == 2.0
