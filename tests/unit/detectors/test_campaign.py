"""CampaignCorrelator on hand-made farms, crowds and decoys."""

from __future__ import annotations

import pickle
import random

from detectors.campaign import Campaign, CampaignCorrelator, WindowSummary, ip_prefix

PROFILE = "GET /api/users/{id}/profile"
PREFIXES = ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24")
BROWSERS = ("Mozilla/5.0 Chrome/126", "Mozilla/5.0 Firefox/127", "Mozilla/5.0 Safari/17")


def _farm(minute: int, rng: random.Random, members: int = 40) -> list[WindowSummary]:
    """40 accounts, 2-3 profiles a minute each, rotating over IPs in three shared /24s."""
    out = []
    for i in range(members):
        n = rng.choice([2, 3])
        out.append(
            WindowSummary(
                entity=f"farm{i:02d}",
                entity_type="account",
                start=minute * 60.0,
                end=minute * 60.0 + 60.0,
                route=PROFILE,
                requests=float(n),
                distinct_sensitive=float(n),
                sequential_walk=1.0,
                interarrival_cv=None if n < 3 else rng.uniform(0.1, 0.6),
                ip_prefixes=tuple(sorted(set(rng.choices(PREFIXES, k=n)))),
                user_agent=rng.choice(BROWSERS),
                score=rng.uniform(0.0, 0.5),
            )
        )
    return out


def _human(name: str, minute: int, rng: random.Random, route: str = PROFILE) -> WindowSummary:
    n = rng.randint(1, 6)
    sensitive = route == PROFILE
    return WindowSummary(
        entity=name,
        entity_type="account",
        start=minute * 60.0,
        end=minute * 60.0 + 60.0,
        route=route,
        requests=float(n),
        distinct_sensitive=float(min(n, 2)) if sensitive else 0.0,
        sequential_walk=0.0 if rng.random() < 0.97 else 1.0,
        interarrival_cv=None if n < 3 else rng.uniform(0.9, 2.5),
        ip_prefixes=(f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24",),
        user_agent=rng.choice(BROWSERS),
    )


def _run(correlator: CampaignCorrelator, minutes: int, seed: int) -> list[Campaign]:
    rng = random.Random(seed)
    reports: list[Campaign] = []
    for minute in range(minutes):
        batch = _farm(minute, rng)
        batch += [_human(f"h{j}", minute, rng) for j in range(rng.randint(80, 120))]
        rng.shuffle(batch)
        for s in batch:
            reports += correlator.add(s)
    return reports


def test_farm_is_one_campaign_naming_most_members_within_30_minutes() -> None:
    reports = _run(CampaignCorrelator(), minutes=30, seed=1)
    assert reports
    named = {m for r in reports for m in r.members}
    assert all(m.startswith("farm") for m in named)  # no human swept in
    assert len(named) >= 32  # >= 80% of 40
    assert len({r.campaign_id for r in reports}) == 1
    first = reports[0]
    assert first.route == PROFILE
    assert len(first.members) >= 5
    assert first.window[1] <= 5 * 60.0  # found in the first minutes
    assert any(s.startswith("ip_prefix=") for s in reports[-1].shared)


def test_reports_only_when_a_campaign_grows() -> None:
    reports = _run(CampaignCorrelator(), minutes=10, seed=2)
    assert reports
    seen: dict[str, set[str]] = {}
    for r in reports:
        before = seen.get(r.campaign_id, set())
        assert r.new_members
        assert set(r.new_members) == set(r.members) - before
        seen[r.campaign_id] = set(r.members)


def test_flash_sale_makes_no_campaign() -> None:
    rng = random.Random(3)
    c = CampaignCorrelator()
    reports = []
    for minute in range(30):
        for j in range(300):
            shopper = _human(f"s{j}", minute, rng, route="GET /shops/{id}")
            # same shop, same small set of prefixes and agents, but nothing sensitive
            shopper = WindowSummary(
                **{
                    **dict(zip(shopper._fields, shopper.fields(), strict=True)),
                    "ip_prefixes": (PREFIXES[j % 3],),
                    "interarrival_cv": rng.uniform(0.9, 2.5),
                }
            )
            reports += c.add(shopper)
    assert reports == []
    assert len(c) == 0  # nothing eligible is kept


def test_humans_reading_profiles_make_no_campaign() -> None:
    rng = random.Random(4)
    c = CampaignCorrelator()
    reports = []
    for minute in range(60):
        for j in range(200):
            reports += c.add(_human(f"h{j}", minute, rng))
    assert reports == []


def test_rate_outliers_are_not_members() -> None:
    c = CampaignCorrelator(min_members=3, min_windows=1, share_prior=0.0)
    base = {
        "entity_type": "account",
        "start": 0.0,
        "end": 60.0,
        "route": PROFILE,
        "distinct_sensitive": 3.0,
        "sequential_walk": 1.0,
        "interarrival_cv": 0.2,
        "ip_prefixes": (PREFIXES[0],),
        "user_agent": None,
    }
    reports = []
    for i, rate in enumerate([3.0, 3.0, 100.0, 3.0]):
        reports += c.add(WindowSummary(entity=f"a{i}", requests=rate, **base))  # type: ignore[arg-type]
    assert reports[-1].members == ("a0", "a1", "a3")


def test_old_summaries_and_campaigns_expire() -> None:
    c = CampaignCorrelator(span=600.0)
    _run(c, minutes=5, seed=5)
    assert len(c) > 0
    late = _human("late", 100, random.Random(0))
    c.add(late)
    assert len(c) == 0
    assert not c._groups and not c._active and not c._key_to_campaign


def test_memory_is_bounded_by_max_summaries() -> None:
    c = CampaignCorrelator(max_summaries=50)
    _run(c, minutes=3, seed=6)
    assert len(c) <= 51


def test_deterministic_and_picklable_mid_stream() -> None:
    a = _run(CampaignCorrelator(), minutes=8, seed=7)
    b = _run(CampaignCorrelator(), minutes=8, seed=7)
    assert a == b
    c = CampaignCorrelator()
    _run(c, minutes=4, seed=8)
    d = pickle.loads(pickle.dumps(c))
    rng1, rng2 = random.Random(9), random.Random(9)
    for s1, s2 in zip(_farm(4, rng1, 60), _farm(4, rng2, 60), strict=True):
        assert c.add(s1) == d.add(s2)


def test_ip_prefix() -> None:
    assert ip_prefix("192.0.2.200") == "192.0.2.0/24"
    assert ip_prefix("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert ip_prefix("not-an-ip") == "not-an-ip"


def test_farm_pinned_to_prefixes_is_named_in_at_most_three_campaigns() -> None:
    rng = random.Random(10)
    c = CampaignCorrelator()
    reports: list[Campaign] = []
    for minute in range(30):
        for s in _farm(minute, rng):
            pinned = PREFIXES[int(s.entity[-2:]) % 3]
            reports += c.add(
                WindowSummary(
                    s.entity, s.entity_type, s.start, s.end, s.route, s.requests,
                    s.distinct_sensitive, s.sequential_walk, s.interarrival_cv,
                    (pinned,), None, s.score,
                )
            )  # fmt: skip
        for j in range(100):
            reports += c.add(_human(f"h{j}", minute, rng))
    named = {m for r in reports for m in r.members}
    assert len(named) >= 32
    assert all(m.startswith("farm") for m in named)
    assert len({r.campaign_id for r in reports}) <= 3


def test_farm_on_residential_ips_is_tied_by_an_unusual_agent() -> None:
    rng = random.Random(11)
    c = CampaignCorrelator()
    reports: list[Campaign] = []
    for minute in range(30):
        for i in range(20):
            reports += c.add(
                WindowSummary(
                    f"bot{i}", "account", minute * 60.0, minute * 60.0 + 60.0, PROFILE,
                    8.0, 8.0, 0.0, rng.uniform(0.05, 0.3),
                    (f"100.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24",),
                    "python-requests/2.32",
                )
            )  # fmt: skip
        for j in range(100):
            reports += c.add(_human(f"h{j}", minute, rng))
    named = {m for r in reports for m in r.members}
    assert named == {f"bot{i}" for i in range(20)}
    assert reports[-1].shared == ("user_agent=python-requests/2.32",)


def test_regular_timing_needs_enough_requests_to_count() -> None:
    c = CampaignCorrelator()
    s = WindowSummary("a", "account", 0.0, 60.0, PROFILE, 3.0, 3.0, 0.0, 0.1, (), None)
    assert not c.eligible(s)  # the CV of two gaps is low half the time by chance
    assert c.eligible(
        WindowSummary("a", "account", 0.0, 60.0, PROFILE, 8.0, 3.0, 0.0, 0.1, (), None)
    )
    assert c.eligible(
        WindowSummary("a", "account", 0.0, 60.0, PROFILE, 2.0, 2.0, 1.0, None, (), None)
    )
    assert not c.eligible(
        WindowSummary("a", "account", 0.0, 60.0, "GET /shops/{id}", 50.0, 0.0, 1.0, 0.0, (), None)
    )


def test_a_member_needs_several_eligible_windows() -> None:
    c = CampaignCorrelator(min_members=5, min_windows=3, share_prior=0.0)
    reports: list[Campaign] = []
    for minute in range(3):
        for i in range(5):
            reports += c.add(
                WindowSummary(f"a{i}", "account", minute * 60.0, minute * 60.0 + 60.0, PROFILE,
                              2.0, 2.0, 1.0, None, (PREFIXES[0],), None)
            )  # fmt: skip
        assert bool(reports) == (minute == 2)
    assert c.share("ip_prefix", PREFIXES[0]) == 1.0
