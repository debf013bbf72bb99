"""Decision layer: calibration, severity, cooldown, allowlist, learning gate."""

from __future__ import annotations

import pickle
import random

import pytest

from detectors.decision import (
    DEFAULT_MIN_THRESHOLDS,
    Allowlist,
    Calibrator,
    Cooldown,
    Decider,
    SeverityScale,
    may_learn,
    severity_of,
)


def test_calibrator_uses_the_minimum_while_warming_up() -> None:
    c = Calibrator(target_rate=0.01, min_threshold=2.0, warmup=100)
    for _ in range(99):
        c.update(50.0)
    assert c.threshold == 2.0
    c.update(50.0)
    assert c.threshold == pytest.approx(50.0)


def test_calibrator_reaches_the_target_alert_rate() -> None:
    rng = random.Random(1)
    c = Calibrator(target_rate=0.01, min_threshold=0.0, warmup=500)
    for _ in range(20_000):
        c.update(rng.expovariate(1.0))
    held_out = [rng.expovariate(1.0) for _ in range(20_000)]
    rate = sum(s >= c.threshold for s in held_out) / len(held_out)
    assert 0.005 < rate < 0.02


def test_calibrator_never_goes_below_the_minimum() -> None:
    c = Calibrator(target_rate=0.001, min_threshold=3.0, warmup=10)
    for _ in range(1000):
        c.update(0.0)  # most windows score 0
    assert c.threshold == 3.0


def test_calibrator_ignores_non_finite_and_rejects_bad_rates() -> None:
    c = Calibrator(warmup=1)
    c.update(float("nan"))
    c.update(float("inf"))
    assert c.n == 0
    with pytest.raises(ValueError, match="target_rate must be in"):
        Calibrator(target_rate=1.5)


def test_severity_levels_from_the_ratio_to_the_threshold() -> None:
    assert severity_of(1.99, 2.0) is None
    assert severity_of(2.0, 2.0) == "low"
    assert severity_of(3.0, 2.0) == "medium"
    assert severity_of(5.0, 2.0) == "high"
    assert severity_of(8.0, 2.0) == "critical"
    assert severity_of(float("nan"), 2.0) is None
    assert severity_of(1.0, 0.0) is None
    assert severity_of(3.0, 2.0, SeverityScale(medium=2.0, high=3.0, critical=5.0)) == "low"


def test_cooldown_one_alert_per_entity_unless_severity_rises() -> None:
    c = Cooldown(seconds=900)
    assert c.allow("account:a", "medium", 0.0)
    assert not c.allow("account:a", "medium", 60.0)
    assert not c.allow("account:a", "low", 120.0)
    assert c.allow("account:a", "critical", 180.0)  # rose
    assert not c.allow("account:a", "critical", 240.0)
    assert c.allow("account:b", "low", 240.0)  # other entity
    assert c.allow("account:a", "low", 180.0 + 900.0)  # cooldown over


def test_cooldown_prunes_finished_entries() -> None:
    c = Cooldown(seconds=100)
    for i in range(50):
        c.allow(f"account:{i}", "low", float(i))
    assert c.prune(now=120.0) == 21  # keys 0..20 are done
    assert len(c) == 29


def test_allowlist_forever_and_until() -> None:
    a = Allowlist()
    a.add("account", "probe")
    a.add("ip", "10.0.0.1", until=100.0)
    assert a.contains("account", "probe", now=1e12)
    assert a.contains("ip", "10.0.0.1", now=99.0)
    assert not a.contains("ip", "10.0.0.1", now=100.0)
    assert not a.contains("account", "10.0.0.1")
    a.remove("account", "probe")
    a.remove("account", "never-there")
    assert not a.contains("account", "probe")
    assert len(a) == 1


def test_flagged_and_allowlisted_windows_do_not_teach() -> None:
    assert may_learn(flagged=False)
    assert not may_learn(flagged=True)
    assert not may_learn(flagged=False, allowlisted=True)


def test_decider_alerts_once_then_on_rise_and_protects_the_model() -> None:
    d = Decider(warmup=10**6)  # thresholds stay at the minimums
    minimum = DEFAULT_MIN_THRESHOLDS["population"]
    first = d.decide("population", "account", "a1", minimum * 1.6, now=60.0)
    assert (first.alert, first.severity, first.learn) == (True, "medium", False)
    again = d.decide("population", "account", "a1", minimum * 1.6, now=120.0)
    assert (again.alert, again.flagged, again.learn) == (False, True, False)
    worse = d.decide("enumeration", "account", "a1", 100.0, now=180.0)
    assert (worse.alert, worse.severity) == (True, "critical")
    quiet = d.decide("population", "account", "a2", 0.0, now=180.0)
    assert (quiet.alert, quiet.severity, quiet.learn) == (False, None, True)


def test_decider_never_alerts_or_learns_allowlisted_entities() -> None:
    d = Decider(warmup=10)
    d.allowlist.add("account", "probe")
    out = d.decide("self_baseline", "account", "probe", 1e6, now=0.0)
    assert out.flagged
    assert (out.alert, out.learn) == (False, False)
    assert d.calibrator("self_baseline").n == 0  # nor calibrated on


def test_unknown_detectors_get_the_default_minimum() -> None:
    d = Decider(default_min_threshold=7.0)
    assert d.decide("campaign", "campaign", "c1", 6.9, now=0.0).severity is None
    assert d.calibrator("campaign").min_threshold == 7.0


def test_everything_pickles_and_keeps_deciding_the_same() -> None:
    d = Decider(warmup=50)
    rng = random.Random(3)
    for i in range(500):
        d.decide("population", "account", f"a{i % 40}", rng.expovariate(1.0), now=float(i))
    d.allowlist.add("account", "a7")
    copy: Decider = pickle.loads(pickle.dumps(d))
    for i in range(500, 700):
        score = rng.expovariate(0.5)
        entity = f"a{i % 40}"
        assert copy.decide("population", "account", entity, score, float(i)) == d.decide(
            "population", "account", entity, score, float(i)
        )


def test_state_of_another_version_is_refused() -> None:
    c = Cooldown()
    state = c.__getstate__()
    state["state_version"] = -1
    with pytest.raises(ValueError, match="Cooldown state version -1 cannot be loaded"):
        Cooldown().__setstate__(state)


def test_a_persistent_attacker_cannot_calibrate_itself_out_of_alerting() -> None:
    d = Decider(warmup=100)
    minimum = DEFAULT_MIN_THRESHOLDS["enumeration"]
    for i in range(5000):  # the attacker's windows fill the top of the score distribution
        d.decide("enumeration", "account", f"h{i}", 0.0, now=float(i))
        d.decide("enumeration", "account", "crawler", 10.0, now=float(i))
    assert d.calibrator("enumeration").threshold == minimum * d.max_factor  # type: ignore[operator]
    assert d.decide("enumeration", "account", "crawler", 10.0, now=1e6).alert
    uncapped = Calibrator(target_rate=0.001, min_threshold=minimum, warmup=100)
    for _ in range(5000):
        uncapped.update(0.0)
        uncapped.update(10.0)
    assert uncapped.threshold == pytest.approx(10.0)
    with pytest.raises(ValueError, match="max_threshold must be >= min_threshold"):
        Calibrator(min_threshold=2.0, max_threshold=1.0)
