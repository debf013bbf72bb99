"""The labelled traffic simulator: reproducible, ordered, in contract, scenarios as specified."""

from __future__ import annotations

import io
import ipaddress
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest

from detectors.eventlog import encode_event, paced, write_jsonl
from detectors.scenarios import ATTACKS, DECOYS, SCENARIOS
from detectors.simulator import DEFAULT_START, SimConfig, Simulation
from detectors.site import ROUTE_OF, SENSITIVE_ROUTES, SITE_ROUTES, products_of_shop, shop_of

Event = dict[str, Any]
_ID = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_SENSITIVE = {ROUTE_OF[e] for e in SENSITIVE_ROUTES}


@cache
def _run(**kwargs: Any) -> tuple[list[Event], list[Event]]:
    sim = Simulation(SimConfig(**kwargs))
    events = list(sim.events())
    return events, sim.labels()


def _small() -> tuple[list[Event], list[Event]]:
    """1.5 h, a few hundred users, every scenario (scenario times scaled by 1/4)."""
    return _run(hours=1.5, benign_accounts=300, anonymous_visitors=150)


def _full_schedule() -> tuple[list[Event], list[Event]]:
    """The default 6 h schedule of the machine-like scenarios, without background."""
    on = frozenset({*ATTACKS, "uptime_probe"})
    return _run(hours=6.0, benign_accounts=0, anonymous_visitors=0, scenarios=on)


def _entity(ev: Event) -> str:
    return str(ev["account"] if ev["account"] is not None else ev["client_ip"])


def _by_entity(events: Iterable[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        out[_entity(ev)].append(ev)
    return out


def _labelled(labels: list[Event], scenario: str) -> list[Event]:
    return [label for label in labels if label["scenario"] == scenario]


def _template(path: str) -> str:
    if path.startswith("/static/"):
        return "/static/{asset}"
    parts = path.split("?", 1)[0].split("/")
    return "/".join("{id}" if _ID.match(p) else p for p in parts)


def _bytes_of(config: SimConfig) -> str:
    buf = io.StringIO()
    write_jsonl(Simulation(config).events(), buf, encode=encode_event)
    return buf.getvalue()


# -- reproducibility, order, contract --------------------------------------------------------
def test_same_seed_same_bytes_and_other_seed_differs() -> None:
    config = SimConfig(hours=0.2, benign_accounts=40, anonymous_visitors=20)
    first, again = _bytes_of(config), _bytes_of(config)
    other = _bytes_of(SimConfig(hours=0.2, benign_accounts=40, anonymous_visitors=20, seed=8))
    assert first == again
    assert first != other
    assert first.count("\n") > 1000


def test_events_are_ts_ordered_and_inside_the_run() -> None:
    events, _ = _small()
    stamps = [ev["ts"] for ev in events]
    assert stamps == sorted(stamps)
    assert stamps[0] >= DEFAULT_START and stamps[-1] < DEFAULT_START + 1.5 * 3600


def test_every_event_follows_the_request_contract() -> None:
    events, _ = _small()
    optional = {"route"}
    fields = {"ts", "client_ip", "method", "path", "status", "account", "bytes", "user_agent",
              "session", "referer"}  # fmt: skip
    for ev in events:
        assert fields <= ev.keys() <= fields | optional
        assert isinstance(ev["ts"], float) and round(ev["ts"], 3) == ev["ts"]
        ipaddress.IPv4Address(ev["client_ip"])
        assert ev["method"] in ("GET", "POST")
        assert ev["path"].startswith("/")
        assert isinstance(ev["status"], int) and 100 <= ev["status"] <= 599
        assert ev["account"] is None or isinstance(ev["account"], str)
        assert isinstance(ev["bytes"], int) and ev["bytes"] >= 0
        assert isinstance(ev["user_agent"], str)
        assert ev["session"] is None or isinstance(ev["session"], str)
        assert ev["referer"] is None or ev["referer"].startswith("https://")
        template = _template(ev["path"])
        assert f"{ev['method']} {template}" in SITE_ROUTES
        if "route" in ev:
            assert ev["route"] == template
        assert json.loads(encode_event(ev)) == ev


def test_about_a_third_carry_the_route_and_ids_come_in_several_shapes() -> None:
    events, _ = _small()
    share = sum("route" in ev for ev in events) / len(events)
    assert 0.30 < share < 0.37
    paths = [ev["path"] for ev in events]
    assert any(re.search(r"/account/orders/[0-9a-f-]{36}$", p) for p in paths)  # UUIDs
    assert any(re.search(r"/static/[0-9a-f]{32}\.webp$", p) for p in paths)  # long hex
    assert any(p.startswith("/search?q=") for p in paths)


def test_one_label_per_entity_with_its_exact_span() -> None:
    events, labels = _small()
    per_entity = _by_entity(events)
    assert len({label["entity"] for label in labels}) == len(labels)
    assert {label["entity"] for label in labels} == per_entity.keys()
    for label in labels:
        mine = per_entity[label["entity"]]
        assert (label["start"], label["end"]) == (mine[0]["ts"], mine[-1]["ts"])
        assert label["malicious"] is (label["scenario"] in ATTACKS)
        assert label["entity_type"] == ("ip" if mine[0]["account"] is None else "account")
    scenarios = {label["scenario"] for label in labels}
    assert scenarios == {"benign", *SCENARIOS}
    assert len(_labelled(labels, "benign")) == 450


def test_switching_scenarios_leaves_background_traffic_unchanged() -> None:
    with_all = Simulation(SimConfig(hours=0.3, benign_accounts=60, anonymous_visitors=30))
    alone = Simulation(
        SimConfig(hours=0.3, benign_accounts=60, anonymous_visitors=30, scenarios=frozenset())
    )
    benign = {a.entity for a in with_all.actors if a.scenario == "benign"}
    assert [ev for ev in with_all.events() if _entity(ev) in benign] == list(alone.events())
    assert {label["scenario"] for label in alone.labels()} == {"benign"}


def test_unknown_scenario_and_bad_duration_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenarios"):
        SimConfig(scenarios=frozenset({"ddos"}))
    with pytest.raises(ValueError, match="hours must be positive"):
        SimConfig(hours=0)


# -- benign background --------------------------------------------------------------------
def test_benign_users_read_sensitive_routes_only_now_and_then() -> None:
    events, labels = _small()
    per_entity = _by_entity(events)
    benign = [per_entity[label["entity"]] for label in _labelled(labels, "benign")]
    sensitive = sum(_template(ev["path"]) in _SENSITIVE for evs in benign for ev in evs)
    total = sum(len(evs) for evs in benign)
    assert 0 < sensitive / total < 0.05
    assert max(sum(_template(ev["path"]) in _SENSITIVE for ev in evs) for evs in benign) < 40
    statuses = {ev["status"] for evs in benign for ev in evs}
    assert {200, 304, 404} <= statuses and statuses & {500, 502, 503}


def test_benign_accounts_keep_few_ips_and_one_browser() -> None:
    events, labels = _small()
    per_entity = _by_entity(events)
    for label in _labelled(labels, "benign"):
        mine = per_entity[label["entity"]]
        assert len({ev["user_agent"] for ev in mine}) == 1
        assert len({ev["client_ip"] for ev in mine}) <= 3
        assert mine[0]["user_agent"].startswith("Mozilla/5.0")


# -- attacks at the default schedule ----------------------------------------------------------
def test_burst_scraper_walks_ids_at_15_to_40_per_second_from_minute_90() -> None:
    events, labels = _full_schedule()
    [label] = _labelled(labels, "burst_scraper")
    mine = _by_entity(events)[label["entity"]]
    assert label["start"] == DEFAULT_START + 90 * 60
    assert 9.5 * 60 < label["end"] - label["start"] <= 10 * 60
    assert 15 <= len(mine) / (label["end"] - label["start"]) <= 40
    assert len({ev["client_ip"] for ev in mine}) == 1
    users = [int(ev["path"].split("/")[3]) for ev in mine if ev["path"].startswith("/api/users/")]
    assert users == list(range(users[0], users[0] + len(users)))
    assert len(users) / len(mine) > 0.6


def test_low_and_slow_reads_a_new_user_every_10_s_until_the_end() -> None:
    events, labels = _full_schedule()
    [label] = _labelled(labels, "low_and_slow")
    mine = _by_entity(events)[label["entity"]]
    assert label["start"] >= DEFAULT_START + 90 * 60
    assert label["end"] > DEFAULT_START + 6 * 3600 - 20
    gaps = [b["ts"] - a["ts"] for a, b in itertools.pairwise(mine)]
    assert 9 < sum(gaps) / len(gaps) < 11 and min(gaps) >= 5 and max(gaps) <= 15
    users = [ev["path"].split("/")[3] for ev in mine]
    assert len(set(users)) == len(users)
    assert {_template(ev["path"]) for ev in mine} <= _SENSITIVE
    assert 1 <= len({ev["client_ip"] for ev in mine}) <= 2
    assert mine[0]["user_agent"].startswith("Mozilla/5.0")


def test_farm_accounts_walk_their_own_ranges_slowly_from_three_prefixes() -> None:
    events, labels = _full_schedule()
    farm = _labelled(labels, "farm")
    assert len(farm) == 40 and {label["campaign"] for label in farm} == {"farm-1"}
    per_entity = _by_entity(events)
    starts = [label["start"] for label in farm]
    assert max(starts) - min(starts) <= 5 * 60 and min(starts) >= DEFAULT_START + 90 * 60
    prefixes, ranges = set(), []
    for label in farm:
        mine = per_entity[label["entity"]]
        assert 115 * 60 <= label["end"] - label["start"] <= 120 * 60
        gaps = [b["ts"] - a["ts"] for a, b in itertools.pairwise(mine)]
        assert min(gaps) >= 20 and max(gaps) <= 40
        ids = [int(ev["path"].split("/")[3]) for ev in mine]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        ranges.append((ids[0], ids[-1]))
        prefixes |= {ev["client_ip"].rsplit(".", 1)[0] for ev in mine}
        assert len({ev["client_ip"] for ev in mine}) > 10
    assert len(prefixes) == 3
    ranges.sort()
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    assert len({per_entity[label["entity"]][0]["user_agent"] for label in farm}) > 1


def test_credential_stuffing_posts_login_from_six_anonymous_ips() -> None:
    events, labels = _full_schedule()
    stuffers = _labelled(labels, "credential_stuffing")
    assert len(stuffers) == 6 and all(label["entity_type"] == "ip" for label in stuffers)
    per_entity = _by_entity(events)
    for label in stuffers:
        mine = per_entity[label["entity"]]
        assert {(ev["method"], ev["path"], ev["account"]) for ev in mine} == {
            ("POST", "/login", None)
        }
        assert 2 <= len(mine) / (label["end"] - label["start"]) <= 5
        assert 0.9 < sum(ev["status"] == 401 for ev in mine) / len(mine) < 0.99
        assert 9 * 60 < label["end"] - label["start"] <= 10 * 60


# -- decoys -----------------------------------------------------------------------------------
def test_uptime_probe_is_exactly_periodic_for_the_whole_run() -> None:
    events, labels = _full_schedule()
    [label] = _labelled(labels, "uptime_probe")
    mine = _by_entity(events)[label["entity"]]
    stamps = [round(ev["ts"] * 1000) for ev in mine]
    assert stamps == list(range(stamps[0], stamps[0] + 30_000 * len(stamps), 30_000))
    assert len(stamps) == 6 * 120 and label["malicious"] is False
    assert {ev["path"] for ev in mine} == {"/health"}


def test_heavy_shopper_is_far_above_p99_but_browses_like_a_human() -> None:
    events, labels = _run(hours=6.0, benign_accounts=400, anonymous_visitors=0,
                          scenarios=frozenset({"heavy_shopper"}))  # fmt: skip
    per_entity = _by_entity(events)
    counts = sorted(len(per_entity[label["entity"]]) for label in _labelled(labels, "benign"))
    [label] = _labelled(labels, "heavy_shopper")
    mine = per_entity[label["entity"]]
    assert len(mine) > 3 * counts[int(0.99 * (len(counts) - 1))]
    own = label["entity"][1:]
    users = {ev["path"].split("/")[3] for ev in mine if ev["path"].startswith("/api/users/")}
    assert users == {own}
    products = [int(ev["path"].split("/")[2]) for ev in mine if ev["path"].startswith("/products/")]
    walks = sum(b == a + 1 for a, b in itertools.pairwise(products))
    assert len(products) > 300 and walks / len(products) < 0.02
    paths = {_template(ev["path"]) for ev in mine}
    assert {"/search", "/products/{id}", "/api/products/{id}/reviews", "/cart"} <= paths


def test_flash_sale_sends_300_accounts_to_one_shop_within_minutes() -> None:
    events, labels = _small()
    buyers = _labelled(labels, "flash_sale")
    assert len(buyers) == 300 and not any(label["malicious"] for label in buyers)
    per_entity = _by_entity(events)
    shops = {ev["path"] for label in buyers for ev in per_entity[label["entity"]]
             if ev["path"].startswith("/shops/")}  # fmt: skip
    assert len(shops) == 1
    shop = int(shops.pop().split("/")[2])
    firsts = sorted(label["start"] for label in buyers)
    assert firsts[-1] - firsts[0] <= 10 * 60 / 4 + 60  # scaled by 1/4 in a 1.5 h run
    sale = set(products_of_shop(shop, 5))
    mine = [ev for label in buyers for ev in per_entity[label["entity"]]]
    viewed = [int(ev["path"].split("/")[2]) for ev in mine if ev["path"].startswith("/products/")]
    assert sum(p in sale for p in viewed) / len(viewed) > 0.6
    assert all(shop_of(p) == shop for p in sale)


def test_decoys_and_attacks_cover_the_declared_scenarios() -> None:
    assert set(ATTACKS) | set(DECOYS) == set(SCENARIOS) and not set(ATTACKS) & set(DECOYS)


# -- output helpers ---------------------------------------------------------------------------
def test_write_jsonl_writes_one_object_per_line(tmp_path: Any) -> None:
    rows: list[dict[str, Any]] = [{"a": 1}, {"b": None}]
    assert write_jsonl(rows, tmp_path / "x.jsonl", chunk=1) == 2
    assert (tmp_path / "x.jsonl").read_text() == '{"a":1}\n{"b":null}\n'


def test_paced_waits_in_proportion_to_event_time() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    events = [{"ts": 10.0}, {"ts": 10.0}, {"ts": 14.0}, {"ts": 30.0}]
    out = list(paced(events, speed=2.0, clock=lambda: now[0], sleep=sleep))
    assert out == events and waits == [2.0, 8.0]
    with pytest.raises(ValueError, match="speed must be positive"):
        list(paced(events, speed=0))
