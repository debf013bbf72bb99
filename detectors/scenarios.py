"""Scripted actors of the simulator: the attacks and the machine-like benign decoy.

Each function yields one entity's requests as bursts (lists) of ``(epoch_ms, event)`` in
strictly increasing millisecond order, from ``start_ms`` (the first request is exactly at
``start_ms``) until before ``end_ms``. Human-like actors (benign users, the heavy shopper,
flash-sale buyers) come from :func:`detectors.visitors.browse` instead.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

from detectors.site import HOST, MAX_PRODUCT_ID, MAX_USER_ID, ROUTE_OF
from detectors.visitors import Burst, event

__all__ = [
    "ATTACKS",
    "DECOYS",
    "SCENARIOS",
    "burst_scraper",
    "credential_stuffer",
    "farm_member",
    "low_and_slow",
    "uptime_probe",
]

#: Malicious scenarios, in schedule order.
ATTACKS: tuple[str, ...] = ("burst_scraper", "low_and_slow", "farm", "credential_stuffing")
#: Benign scenarios that look unusual and must not alert beyond the lowest severity.
DECOYS: tuple[str, ...] = ("heavy_shopper", "uptime_probe", "flash_sale")
SCENARIOS: tuple[str, ...] = ATTACKS + DECOYS

_PROFILE = "GET /api/users/{id}/profile"
_PHONE = "GET /api/users/{id}/phone"


def _route(rand: float, route_share: float, endpoint: str) -> str | None:
    return ROUTE_OF[endpoint] if rand < route_share else None


def burst_scraper(
    rng: random.Random, *, account: str, ip: str, agent: str, start_ms: int, end_ms: int,
    route_share: float,
) -> Iterator[Burst]:  # fmt: skip
    """15-40 requests/s walking user profiles and products by sequential ids.

    Two cursors advance one id per request: about 70% of requests read the next user
    profile, the rest the next product page.
    """
    rand = rng.random
    rate = rng.uniform(15.0, 40.0)
    mean_gap = 1000.0 / rate
    user = rng.randint(1, MAX_USER_ID // 2)
    product = rng.randint(1, MAX_PRODUCT_ID // 2)
    session = f"{rng.getrandbits(64):016x}"
    t = start_ms
    while t < end_ms:
        if rand() < 0.7:
            path, endpoint, size = f"/api/users/{user}/profile", _PROFILE, 1_400
            status = 404 if rand() < 0.04 else 200
            user += 1
        else:
            path, endpoint, size = f"/products/{product}", "GET /products/{id}", 88_000
            status = 404 if rand() < 0.02 else 200
            product += 1
        route = _route(rand(), route_share, endpoint)
        nbytes = int(size * (0.7 + 0.6 * rand())) if status == 200 else 180
        yield [(t, event(t, ip, "GET", path, status, account, route, nbytes, agent, session, None))]
        t += max(1, int(mean_gap * (0.5 + rand())))


def _permuted_user(k: int, a: int, b: int) -> int:
    """The k-th user id of a non-repeating pseudo-random walk of 1..MAX_USER_ID."""
    return (a * k + b) % MAX_USER_ID + 1


def low_and_slow(
    rng: random.Random, *, account: str, ips: tuple[str, ...], agent: str, start_ms: int,
    end_ms: int, route_share: float,
) -> Iterator[Burst]:  # fmt: skip
    """About one request every 10 s (jittered), each a user id never read before.

    Reads profiles (about 65%) or phone numbers of users in a scattered order, never
    twice the same id; hops between its addresses about once an hour and renews its
    session about every 40 minutes, with a browser user agent and a plausible referer.
    """
    rand = rng.random
    a = rng.randrange(1_000_003, MAX_USER_ID, 2)
    while math.gcd(a, MAX_USER_ID) != 1:
        a += 2
    b = rng.randrange(MAX_USER_ID)
    ip = ips[0]
    session = f"{rng.getrandbits(64):016x}"
    t, k = start_ms, 0
    while t < end_ms:
        if rand() < 1 / 360:
            ip = ips[int(rand() * len(ips))]
        if rand() < 1 / 240:
            session = f"{rng.getrandbits(64):016x}"
        user = _permuted_user(k, a, b)
        k += 1
        if rand() < 0.65:
            path, endpoint, size = f"/api/users/{user}/profile", _PROFILE, 1_400
        else:
            path, endpoint, size = f"/api/users/{user}/phone", _PHONE, 300
        status = 404 if rand() < 0.01 else 200
        route = _route(rand(), route_share, endpoint)
        nbytes = int(size * (0.7 + 0.6 * rand())) if status == 200 else 180
        yield [(t, event(t, ip, "GET", path, status, account, route, nbytes, agent, session,
                       HOST + "/"))]  # fmt: skip
        t += int(10_000 * (0.6 + 0.8 * rand()))


def farm_member(
    rng: random.Random, *, account: str, prefixes: tuple[str, ...], agent: str, first_id: int,
    start_ms: int, end_ms: int, route_share: float,
) -> Iterator[Burst]:  # fmt: skip
    """One farm account: walks user profiles ``first_id, first_id + 1, ...`` slowly.

    One request every 20-40 s, from an address of the farm's shared /24 prefixes that
    changes every few requests.
    """
    rand = rng.random
    session = f"{rng.getrandbits(64):016x}"
    ip, left = "", 0
    t, user = start_ms, first_id
    while t < end_ms:
        if left == 0:
            ip = f"{prefixes[int(rand() * len(prefixes))]}.{2 + int(rand() * 253)}"
            left = 1 + int(rand() * 6)
        left -= 1
        status = 404 if rand() < 0.02 else 200
        route = _route(rand(), route_share, _PROFILE)
        nbytes = int(1_400 * (0.7 + 0.6 * rand())) if status == 200 else 180
        yield [(t, event(t, ip, "GET", f"/api/users/{user}/profile", status, account, route,
                       nbytes, agent, session, None))]  # fmt: skip
        user += 1
        t += 20_000 + int(20_000 * rand())


def credential_stuffer(
    rng: random.Random, *, ip: str, agent: str, start_ms: int, end_ms: int, route_share: float
) -> Iterator[Burst]:
    """Anonymous ``POST /login`` at 2-5 per second, about 95% rejected (401)."""
    rand = rng.random
    mean_gap = 1000.0 / rng.uniform(2.0, 5.0)
    t = start_ms
    while t < end_ms:
        status = 200 if rand() < 0.05 else 401
        route = _route(rand(), route_share, "POST /login")
        nbytes = 420 if status == 200 else 95
        yield [(t, event(t, ip, "POST", "/login", status, None, route, nbytes, agent, None, None))]
        t += max(1, int(mean_gap * (0.5 + rand())))


def uptime_probe(
    rng: random.Random, *, ip: str, agent: str, start_ms: int, end_ms: int, route_share: float
) -> Iterator[Burst]:
    """``GET /health`` exactly every 30 s from ``start_ms``: perfectly regular, harmless."""
    rand = rng.random
    t = start_ms
    while t < end_ms:
        route = _route(rand(), route_share, "GET /health")
        yield [(t, event(t, ip, "GET", "/health", 200, None, route, 15, agent, None, None))]
        t += 30_000
