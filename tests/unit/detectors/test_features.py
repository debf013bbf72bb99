"""Account and endpoint window features on hand-made requests."""

from __future__ import annotations

import base64
import json
import pickle

import pytest

from detectors.features import (
    AccountWindow,
    EndpointPartial,
    EndpointWindow,
    combine_partials,
    interarrival_cv,
    sequential_walk,
    summary_from_dict,
    summary_to_dict,
)
from detectors.stages import WindowSummary

PROFILE = "GET /api/users/{id}/profile"


def test_account_window_features_have_the_contract_names_and_values() -> None:
    w = AccountWindow()
    for i in range(4):
        w.add(10.0 * i, PROFILE, (str(100 + i),), True, 200, "10.0.0.1", "bot/1")
    w.add(45.0, "POST /login", (), False, 401, "10.0.0.2", "bot/1")
    w.add(50.0, "GET /products/{id}", ("7",), False, 404, "10.0.0.2", None)
    x = w.features(new_resource_ratio=0.5)
    assert x == {
        "requests": 6.0,
        "distinct_endpoints": 3.0,
        "distinct_resources": 5.0,
        "new_resource_ratio": 0.5,
        "sequential_walk": pytest.approx(3 / 4),  # 7 | 100 101 102 103
        "error_ratio": pytest.approx(2 / 6),
        "auth_failures": 1.0,
        "sensitive_share": pytest.approx(4 / 6),
        "distinct_sensitive": 4.0,
        "interarrival_cv": pytest.approx(interarrival_cv([0, 10, 20, 30, 45, 50])),
        "distinct_ips": 2.0,
    }


def test_interarrival_cv_is_absent_below_three_requests() -> None:
    w = AccountWindow("ip")
    w.add(1.0, "GET /", (), False, 200, "10.0.0.1", None)
    w.add(2.0, "GET /", (), False, 200, "10.0.0.1", None)
    assert "interarrival_cv" not in w.features(0.0)
    assert interarrival_cv([0.0, 10.0, 20.0]) == 0.0
    assert interarrival_cv([0.0, 1.0, 20.0]) == pytest.approx(0.9)


def test_sequential_walk() -> None:
    assert sequential_walk({"1", "2", "3", "4"}) == 1.0
    assert sequential_walk({"1", "500", "9000"}) == 0.0
    assert sequential_walk({"1", "abc"}) == 0.0
    assert sequential_walk({"10", "12", "99"}) == 0.5


def _partial(source: int, accounts: dict[str, int], ids: list[str]) -> EndpointPartial:
    w = EndpointWindow()
    for entity, n in accounts.items():
        for i in range(n):
            w.add(entity, (ids[i % len(ids)],))
    return w.partial(
        endpoint=PROFILE, start=0.0, end=60.0, source=source, top_k=2, lg_k=8, samples=3
    )


def test_endpoint_partials_combine_exactly_and_in_any_order() -> None:
    a = _partial(0, {"u1": 5, "u2": 1}, ["1", "2", "3"])
    b = _partial(1, {"u3": 3}, ["3", "4"])
    feats, top, ids = combine_partials([a, b], top_k=2, lg_k=8, samples=3)
    assert feats == {
        "requests": 9.0,
        "distinct_accounts": 3.0,
        "distinct_resources": 4.0,
        "top_share": pytest.approx(5 / 9),
    }
    assert top == (("u1", 5), ("u3", 3))
    assert ids == ("1", "2", "3")
    assert combine_partials([b, a], top_k=2, lg_k=8, samples=3) == (feats, top, ids)


def test_partial_and_summary_round_trip_through_json_dicts() -> None:
    p = _partial(2, {"u1": 2}, ["5"])
    assert EndpointPartial.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    s = WindowSummary(
        "u1", "account", 0.0, 60.0, PROFILE, 3.0, 3.0, 1.0, None, ("198.51.100.0/24",), "bot/1", 2.5
    )
    assert summary_from_dict(json.loads(json.dumps(summary_to_dict(s)))) == s


def test_combined_endpoint_counts_do_not_depend_on_arrival_order() -> None:
    import itertools
    import random

    from detectors.features import EndpointWindow, combine_partials

    parts = []
    # sketches of different sizes (so in different HLL modes): without a fixed order, the
    # union's estimate of these moves between 80 and 81 with the order they join it in
    rng = random.Random(4)
    for source, n in enumerate([20, 60, 3]):
        w = EndpointWindow()
        for _ in range(n):
            w.add("acct", (str(rng.randint(0, 2000)),))
        parts.append(
            w.partial(endpoint="GET /p/{id}", start=0.0, end=60.0, source=source, top_k=3, lg_k=8)
        )
    results = {
        repr(combine_partials(list(order), top_k=3, lg_k=8))
        for order in itertools.permutations(parts)
    }
    assert len(results) == 1


# pickled by a release where both records were frozen dataclasses (an endpoint stage
# checkpoint holds them): they must still load
_DATACLASS_PICKLE = (
    "gAWVCQEAAAAAAACMEmRldGVjdG9ycy5mZWF0dXJlc5SMD0VuZHBvaW50UGFydGlhbJSTlCmBlF2UKIwLR0VUIC91"
    "L3tpZH2UR0BOAAAAAAAAR0BeAAAAAAAASwJLB0sDjAFhlEsEhpSMAWKUSwOGlIaUQwIBApSMATGUjAEylIaUZWKM"
    "EmRldGVjdG9ycy5jYW1wYWlnbpSMDVdpbmRvd1N1bW1hcnmUk5QpgZRdlCiMBGFjY3SUjAdhY2NvdW50lEdATgAA"
    "AAAAAEdAXgAAAAAAAGgFR0AcAAAAAAAAR0AIAAAAAAAARz/wAAAAAAAATowLMTAuMC4wLjAvMjSUhZSMAnVhlEdA"
    "BAAAAAAAAGVihpQu"
)


def test_partials_and_summaries_are_values_that_pickle_and_load_old_pickles() -> None:
    p = EndpointPartial("GET /u/{id}", 60.0, 120.0, 2, 7, 3, (("a", 4), ("b", 3)), b"\x01\x02",
                        ("1", "2"))  # fmt: skip
    s = WindowSummary("acct", "account", 60.0, 120.0, "GET /u/{id}", 7.0, 3.0, 1.0, None,
                      ("10.0.0.0/24",), "ua", 2.5)  # fmt: skip
    assert pickle.loads(base64.b64decode(_DATACLASS_PICKLE)) == (p, s)
    for record in (p, s):
        back = pickle.loads(pickle.dumps(record))
        assert back == record and hash(back) == hash(record) and back is not record
        assert repr(record).startswith(type(record).__name__ + "(")
    assert p != EndpointPartial(*p.fields()[:-1]) and p.sample_ids == ("1", "2")
    assert s.score == 2.5 and WindowSummary(*s.fields()[:-1]).score == 0.0
    assert (p == s) is False
