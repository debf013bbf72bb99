"""One contract every scoring detector keeps (river's ``check_estimator`` idea)."""

from __future__ import annotations

import math
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from detectors.base import STATE_VERSION, Detector, Features
from detectors.baseline import SelfBaseline
from detectors.endpoint import EndpointForecast
from detectors.enumeration import EnumerationDetector
from detectors.population import PopulationModel


@dataclass(frozen=True)
class Case:
    """A detector factory, a generator of typical input and one obvious outlier."""

    name: str
    make: Callable[[], Detector]
    typical: Callable[[random.Random], dict[str, float]]
    outlier: dict[str, float]
    warmup: int


def _account_window(rng: random.Random) -> dict[str, float]:
    requests = float(rng.randint(1, 40))
    return {
        "requests": requests,
        "distinct_endpoints": float(rng.randint(1, 6)),
        "distinct_resources": float(rng.randint(0, 8)),
        "new_resource_ratio": rng.random(),
        "sequential_walk": rng.random() * 0.2,
        "error_ratio": rng.random() * 0.05,
        "auth_failures": float(rng.random() < 0.05),
        "sensitive_share": rng.random() * 0.1,
        "distinct_sensitive": float(rng.randint(0, 2)),
        "interarrival_cv": 0.8 + rng.random() * 1.5,
        "distinct_ips": 1.0,
    }


def _long_window(rng: random.Random) -> dict[str, float]:
    return {
        "distinct_sensitive_1h": float(rng.randint(0, 6)),
        "distinct_sensitive_24h": float(rng.randint(0, 25)),
        "distinct_resources_1h": float(rng.randint(0, 60)),
        "sensitive_requests_1h": float(rng.randint(0, 20)),
        "active_windows_1h": float(rng.randint(1, 30)),
    }


def _endpoint_window(rng: random.Random) -> dict[str, float]:
    return {
        "requests": float(rng.randint(900, 1100)),
        "distinct_accounts": float(rng.randint(180, 220)),
        "distinct_resources": float(rng.randint(400, 500)),
        "top_share": 0.02 + rng.random() * 0.02,
    }


_CRAWLER = {
    "requests": 400.0,
    "distinct_endpoints": 1.0,
    "distinct_resources": 400.0,
    "new_resource_ratio": 1.0,
    "sequential_walk": 1.0,
    "error_ratio": 0.02,
    "auth_failures": 0.0,
    "sensitive_share": 1.0,
    "distinct_sensitive": 400.0,
    "interarrival_cv": 0.05,
    "distinct_ips": 1.0,
}

CASES = [
    Case("self_baseline", SelfBaseline, _account_window, _CRAWLER, 20),
    Case("population", PopulationModel, _account_window, _CRAWLER, 400),
    Case(
        "enumeration",
        EnumerationDetector,
        _long_window,
        {
            "distinct_sensitive_1h": 360.0,
            "distinct_sensitive_24h": 360.0,
            "distinct_resources_1h": 360.0,
            "sensitive_requests_1h": 360.0,
            "active_windows_1h": 60.0,
        },
        6000,  # learns ~1 window in 15 (sampled by active_windows_1h)
    ),
    Case(
        "endpoint",
        EndpointForecast,
        _endpoint_window,
        {"requests": 4000.0, "distinct_accounts": 210.0, "distinct_resources": 3500.0},
        30,
    ),
]

EXTREMES: list[dict[str, float]] = [
    {},
    {"requests": math.nan, "distinct_resources": math.inf, "distinct_sensitive": -math.inf},
    {"requests": 1e308, "distinct_resources": 1e308, "sequential_walk": 1e308},
    {"requests": -1e308, "sensitive_share": -5.0, "interarrival_cv": -1.0},
    {"distinct_sensitive_1h": 1e308, "distinct_accounts": 1e308, "auth_failures": 1e300},
    {"requests": 0.0, "distinct_resources": 0.0, "interarrival_cv": 0.0},
]


def _trained(case: Case, seed: int = 7) -> Detector:
    rng = random.Random(seed)
    det = case.make()
    for _ in range(case.warmup):
        det.learn_one(case.typical(rng))
    return det


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    result: Case = request.param
    return result


def test_is_a_detector(case: Case) -> None:
    det = case.make()
    assert isinstance(det, Detector)
    assert det.score_one(case.outlier) == 0.0  # unsure while warming up
    assert all(math.isfinite(v) for v in _trained(case).baselines().values())


def test_pickles_to_an_equal_scoring_object(case: Case) -> None:
    det = _trained(case)
    copy: Detector = pickle.loads(pickle.dumps(det))
    rng = random.Random(99)
    for x in [case.outlier, *(case.typical(rng) for _ in range(20))]:
        assert copy.score_one(x) == det.score_one(x)
    assert copy.baselines() == det.baselines()
    # and both keep learning identically
    x = case.typical(rng)
    copy.learn_one(x)
    det.learn_one(x)
    assert copy.score_one(case.outlier) == det.score_one(case.outlier)


def test_refuses_state_of_another_version(case: Case) -> None:
    det = _trained(case)
    state: dict[str, Any] = getattr(det, "__getstate__")()  # noqa: B009  (not in the protocol)
    assert state["state_version"] == STATE_VERSION
    state["state_version"] = STATE_VERSION + 1
    with pytest.raises(ValueError, match="state version"):
        getattr(case.make(), "__setstate__")(state)  # noqa: B009  (not in the protocol)


def test_deterministic_for_a_seed(case: Case) -> None:
    a, b = _trained(case, seed=3), _trained(case, seed=3)
    rng = random.Random(5)
    xs = [case.typical(rng) for _ in range(30)]
    assert [a.score_one(x) for x in xs] == [b.score_one(x) for x in xs]


def test_finite_scores_on_random_and_extreme_input(case: Case) -> None:
    det = _trained(case)
    rng = random.Random(11)
    keys = sorted({k for c in CASES for k in c.outlier} | {"interarrival_cv", "top_share"})
    randoms = [
        {k: rng.choice([0.0, rng.random(), rng.expovariate(0.01), 1e9]) for k in keys}
        for _ in range(50)
    ]
    for x in [*EXTREMES, *randoms]:
        assert math.isfinite(det.score_one(x))
        det.learn_one(x)
        assert math.isfinite(det.score_one(x))
        assert math.isfinite(det.score_one(case.outlier))
    assert all(math.isfinite(v) for v in det.baselines().values())


def test_tolerates_missing_features(case: Case) -> None:
    det = _trained(case)
    rng = random.Random(13)
    for _ in range(50):
        full = case.typical(rng)
        partial: Features = {k: v for k, v in full.items() if rng.random() < 0.5}
        det.learn_one(partial)
        assert math.isfinite(det.score_one(partial))
    assert det.score_one({}) == 0.0


def test_outlier_scores_higher_than_typical_after_warmup(case: Case) -> None:
    det = _trained(case)
    rng = random.Random(17)
    typical = [det.score_one(case.typical(rng)) for _ in range(200)]
    outlier = det.score_one(case.outlier)
    assert outlier > max(typical)
    assert outlier > 1.0
