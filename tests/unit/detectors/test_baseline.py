"""SelfBaseline on small hand-made account histories."""

from __future__ import annotations

import math
import pickle
import sys

from detectors.baseline import SelfBaseline

STEADY = {"requests": 20.0, "distinct_resources": 4.0, "sequential_walk": 0.0}


def _steady(n: int = 30, **kwargs: float) -> SelfBaseline:
    b = SelfBaseline(**kwargs)  # type: ignore[arg-type]
    for i in range(n):
        b.learn_one({**STEADY, "requests": 18.0 + (i % 5)})
    return b


def test_scores_zero_until_warm() -> None:
    b = SelfBaseline(warmup=5)
    for _ in range(4):
        b.learn_one(STEADY)
        assert b.score_one({"requests": 1e6}) == 0.0
    b.learn_one(STEADY)
    assert b.score_one({"requests": 1e6}) > 0.0


def test_usual_window_scores_low_and_a_jump_scores_high() -> None:
    b = _steady()
    assert b.score_one({**STEADY, "requests": 21.0}) < 1.0
    assert b.score_one({**STEADY, "distinct_resources": 400.0}) > 8.0


def test_variance_floor_keeps_a_quiet_accounts_first_busy_window_finite() -> None:
    b = SelfBaseline(warmup=3)
    for _ in range(50):
        b.learn_one({"requests": 1.0})  # zero variance
    z = b.score_one({"requests": 3.0})
    # log1p(3) - log1p(1) = 0.69 over the 0.5 floor
    assert math.isclose(z, (math.log1p(3.0) - math.log1p(1.0)) / 0.5, rel_tol=1e-9)
    assert 30.0 < b.score_one({"requests": 1e9}) <= b.cap


def test_only_rises_count() -> None:
    b = _steady()
    assert b.score_one({"requests": 0.0, "distinct_resources": 0.0}) == 0.0


def test_one_learned_outlier_does_not_blind_the_baseline() -> None:
    b = _steady()
    b.learn_one({**STEADY, "distinct_resources": 5000.0})  # slipped through unflagged
    assert b.score_one({**STEADY, "distinct_resources": 400.0}) > 6.0


def test_missing_and_unknown_features_are_ignored() -> None:
    b = _steady()
    assert b.score_one({"no_such_feature": 1e9}) == 0.0
    b.learn_one({"requests": 20.0})  # others absent: their means stay
    assert math.isclose(b.baselines()["distinct_resources"], 4.0)
    assert "error_ratio" not in b.baselines()  # never seen


def test_baselines_are_in_feature_units() -> None:
    b = SelfBaseline(warmup=1)
    for _ in range(200):
        b.learn_one({"requests": 10.0, "sensitive_share": 0.25})
    base = b.baselines()
    assert math.isclose(base["requests"], 10.0, rel_tol=1e-6)
    assert math.isclose(base["sensitive_share"], 0.25, rel_tol=1e-6)


def test_per_account_state_is_tiny() -> None:
    b = _steady()
    in_memory = sys.getsizeof(b) + sys.getsizeof(b._stats)
    assert in_memory < 400
    assert len(pickle.dumps(b)) < 400  # default feature table is not pickled per account
    copy = pickle.loads(pickle.dumps(b))
    assert copy.features is b.features


def test_a_tiny_window_is_not_a_ratio_anomaly() -> None:
    b = SelfBaseline()
    for _ in range(30):
        b.learn_one({"requests": 8.0, "sensitive_share": 0.0, "error_ratio": 0.0})
    # one request that happened to be a profile view or a 404
    assert b.score_one({"requests": 1.0, "sensitive_share": 1.0, "error_ratio": 1.0}) < 1.0
    # hundreds of requests all on sensitive routes are
    assert b.score_one({"requests": 400.0, "sensitive_share": 1.0}) > 6.0
    assert b.score_one({"requests": -5.0, "sensitive_share": 1.0}) == 0.0
    assert SelfBaseline(prior_requests=0.0, warmup=0).score_one({"requests": 0.0}) == 0.0
