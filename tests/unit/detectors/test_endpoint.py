"""EndpointForecast: each endpoint against its own recent level."""

from __future__ import annotations

import math
import pickle
import random
import sys

from detectors.endpoint import EndpointForecast

USUAL = {"requests": 1000.0, "distinct_accounts": 200.0, "distinct_resources": 450.0}


def _warm(n: int = 60, seed: int = 1) -> EndpointForecast:
    rng = random.Random(seed)
    f = EndpointForecast()
    for _ in range(n):
        f.learn_one({k: v * rng.uniform(0.95, 1.05) for k, v in USUAL.items()})
    return f


def test_warming_up_scores_zero() -> None:
    f = EndpointForecast(warmup=5)
    for _ in range(4):
        f.learn_one(USUAL)
        assert f.score_one({"requests": 1e6}) == 0.0
    f.learn_one(USUAL)
    assert f.score_one({"requests": 1e6}) > 0.0


def test_usual_jitter_scores_low() -> None:
    f = _warm()
    rng = random.Random(2)
    for _ in range(100):
        x = {k: v * rng.uniform(0.95, 1.05) for k, v in USUAL.items()}
        assert f.score_one(x) < 3.0


def test_distinct_resource_surge_scores_high_and_names_the_count() -> None:
    f = _warm()
    surge = {**USUAL, "distinct_resources": 3000.0}
    assert f.score_one(surge) > 20.0
    assert f.score_one({"distinct_resources": 3000.0}) == f.score_one(surge)


def test_drops_do_not_score() -> None:
    f = _warm()
    assert f.score_one({"requests": 10.0, "distinct_accounts": 1.0}) == 0.0


def test_poisson_floor_on_a_quiet_endpoint() -> None:
    f = EndpointForecast(warmup=3)
    for _ in range(50):
        f.learn_one({"requests": 4.0})  # no variance at all
    # std floor = max(sqrt(4), 0.4, 1) = 2
    assert math.isclose(f.score_one({"requests": 10.0}), 3.0, rel_tol=1e-9)


def test_an_unflagged_surge_moves_the_forecast_only_so_far() -> None:
    f = _warm()
    f.learn_one({"requests": 1e9})
    assert f.baselines()["requests"] < 2000.0


def test_adapts_to_a_lasting_level_shift() -> None:
    f = _warm()
    for _ in range(60):
        f.learn_one({**USUAL, "requests": 2000.0})
    assert f.score_one({**USUAL, "requests": 2000.0}) < 1.0
    assert math.isclose(f.baselines()["requests"], 2000.0, rel_tol=0.05)


def test_state_is_tiny() -> None:
    f = _warm()
    assert sys.getsizeof(f) + sys.getsizeof(f._stats) < 400
    assert len(pickle.dumps(f)) < 400


def test_flagged_windows_can_teach_with_a_small_weight() -> None:
    f, g = _warm(), _warm()
    shifted = {**USUAL, "requests": 3000.0}
    for _ in range(50):
        f.learn_one(shifted, weight=0.1)
        g.learn_one(shifted, weight=0.0)
    assert f.score_one(shifted) < g.score_one(shifted) / 2
    assert g.baselines() == _warm().baselines()  # weight 0 learns nothing but the count
