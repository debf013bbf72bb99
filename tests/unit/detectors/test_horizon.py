"""Long horizons: HLL rings per entity."""

from __future__ import annotations

import pickle

import pytest

from detectors.horizon import HORIZON_FEATURES, Horizon


def test_distinct_counts_over_the_hour_and_the_day() -> None:
    h = Horizon()
    feats: dict[str, float] = {}
    news = []
    for minute in range(30):  # 10 new sensitive ids a minute for 30 minutes
        ids = {str(minute * 10 + i) for i in range(10)}
        feats, new = h.update(minute * 60.0, ids, ids, 10)
        news.append(new)
    # a difference of HLL estimates: near exact while the sketch is small, noisy after
    assert news[:5] == pytest.approx([1.0] * 5, abs=0.1)
    assert sum(news) / len(news) == pytest.approx(1.0, abs=0.2)
    assert set(feats) == set(HORIZON_FEATURES)
    assert feats["distinct_sensitive_1h"] == pytest.approx(300, rel=0.05)
    assert feats["distinct_sensitive_24h"] == pytest.approx(300, rel=0.05)
    assert feats["sensitive_requests_1h"] == 300.0
    assert feats["active_windows_1h"] == 30.0


def test_repeated_resources_are_not_new_and_not_counted_twice() -> None:
    h = Horizon()
    h.update(0.0, {"1", "2", "3"}, set(), 0)
    feats, new = h.update(60.0, {"1", "2", "3", "4"}, set(), 0)
    assert new == pytest.approx(0.25)
    assert feats["distinct_resources_1h"] == 4.0
    assert feats["distinct_sensitive_1h"] == 0.0


def test_old_buckets_leave_the_hour_but_stay_in_the_day() -> None:
    h = Horizon()
    h.update(0.0, {"a", "b"}, {"a", "b"}, 2)
    feats, _ = h.update(2 * 3600.0, {"c"}, {"c"}, 1)
    assert feats["distinct_sensitive_1h"] == 1.0
    assert feats["distinct_sensitive_24h"] == 3.0
    assert feats["active_windows_1h"] == 1.0
    feats, _ = h.update(30 * 3600.0, set(), set(), 0)
    assert feats["distinct_sensitive_24h"] == 0.0
    # expired buckets are dropped; a day bucket with no sensitive id is not kept at all
    assert len(h.hour) == 1 and len(h.day) == 0


def test_pickles_and_stays_small() -> None:
    h = Horizon()
    h.update(0.0, {"1", "2"}, {"1"}, 1)
    clone = pickle.loads(pickle.dumps(h))
    assert clone.update(60.0, {"3"}, set(), 0) == h.update(60.0, {"3"}, set(), 0)
    assert len(pickle.dumps(h)) < 400


def test_state_of_an_entity_pickles_small_and_round_trips() -> None:
    import pickle

    from detectors.stages import EntityState

    h = Horizon()
    h.update(0.0, {"1", "2"}, {"1"}, 1)
    state = EntityState("account", None, h)
    blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(blob)
    assert (back.entity_type, back.baseline, back.horizon.hour, back.horizon.day) == (
        "account",
        None,
        h.hour,
        h.day,
    )
    assert len(blob) < 200  # flat, no attribute names: written once per active window
