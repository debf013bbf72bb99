"""PopulationModel: windows against all accounts' windows."""

from __future__ import annotations

import random

import pytest

from detectors.population import PopulationModel, derived_features


def _human(rng: random.Random) -> dict[str, float]:
    requests = float(min(int(rng.paretovariate(1.5) * 3), 200))
    sensitive = rng.random() * 0.1
    return {
        "requests": requests,
        "distinct_endpoints": float(rng.randint(1, 8)),
        "distinct_resources": float(rng.randint(0, int(requests * 0.5) + 1)),
        "sequential_walk": rng.random() * 0.2,
        "error_ratio": rng.random() * 0.05,
        "auth_failures": float(rng.random() < 0.02),
        "sensitive_share": sensitive,
        "distinct_sensitive": float(rng.choice([0, 0, 0, 1, 1, 2, 3])),
        "interarrival_cv": 0.9 + rng.random() * 2.0,
    }


@pytest.fixture(scope="module")
def model() -> PopulationModel:
    rng = random.Random(42)
    m = PopulationModel()
    for _ in range(5000):
        m.learn_one(_human(rng))
    return m


def test_warming_up_scores_zero() -> None:
    m = PopulationModel(warmup=10)
    m.learn_one({"distinct_sensitive": 1.0})
    assert m.score_one({"distinct_sensitive": 1e6}) == 0.0


def test_typical_humans_score_zero_or_near(model: PopulationModel) -> None:
    rng = random.Random(1)
    scores = sorted(model.score_one(_human(rng)) for _ in range(2000))
    assert scores[len(scores) // 2] == 0.0
    assert scores[int(len(scores) * 0.99)] < 1.0


def test_burst_enumerator_scores_sharply(model: PopulationModel) -> None:
    crawler = {
        "requests": 412.0,
        "distinct_resources": 412.0,
        "sequential_walk": 1.0,
        "sensitive_share": 1.0,
        "distinct_sensitive": 412.0,
        "interarrival_cv": 0.1,
    }
    assert model.score_one(crawler) > 6.0
    excess = model.excesses(crawler)
    assert {"distinct_sensitive", "sensitive_requests", "walked_resources"} <= set(excess)


def test_busy_human_does_not_rise(model: PopulationModel) -> None:
    shopper = {
        "requests": 300.0,
        "distinct_endpoints": 6.0,
        "distinct_resources": 90.0,
        "sequential_walk": 0.05,
        "sensitive_share": 0.01,
        "distinct_sensitive": 1.0,
        "interarrival_cv": 1.8,
        "error_ratio": 0.0,
        "auth_failures": 0.0,
    }
    assert model.score_one(shopper) < 1.0


def test_regular_probe_does_not_rise(model: PopulationModel) -> None:
    probe = {"requests": 6.0, "distinct_resources": 0.0, "interarrival_cv": 0.0}
    assert model.score_one(probe) == 0.0


def test_credential_stuffing_rises(model: PopulationModel) -> None:
    stuffing = {"requests": 120.0, "auth_failures": 110.0, "error_ratio": 0.92}
    assert model.score_one(stuffing) > 4.0


def test_machine_regular_slow_reader_rises_above_humans(model: PopulationModel) -> None:
    reader = {
        "requests": 60.0,
        "distinct_resources": 60.0,
        "sensitive_share": 1.0,
        "distinct_sensitive": 60.0,
        "sequential_walk": 0.0,
        "interarrival_cv": 0.05,
    }
    assert model.score_one(reader) > 3.0


def test_baselines_are_floored_population_p99(model: PopulationModel) -> None:
    base = model.baselines()
    assert base["distinct_sensitive"] == 5.0  # p99 of humans is 3: the floor wins
    assert set(base) == set(model.floors)
    medians = model.medians()
    assert medians["distinct_sensitive"] == pytest.approx(1.0, abs=0.1)


def test_derived_features_gate_volume_by_machine_likeness() -> None:
    human = derived_features(
        {
            "requests": 300.0,
            "distinct_resources": 90.0,
            "sequential_walk": 0.0,
            "interarrival_cv": 2.0,
        }
    )
    assert human["machine_resources"] == 0.0
    assert human["machine_requests"] == 0.0
    bot = derived_features(
        {
            "requests": 300.0,
            "distinct_resources": 90.0,
            "sequential_walk": 0.0,
            "interarrival_cv": 0.2,
        }
    )
    assert bot["machine_resources"] == pytest.approx(72.0)
    assert derived_features({}) == {}
