"""Human browsing: sessions of page views with think times, for benign simulated users.

One ``browse`` generator produces the requests of one visitor (an account or an anonymous
IP) in strictly increasing millisecond order, one burst per page view: the page itself plus
the XHR calls and static assets a browser makes for it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from detectors.site import (
    HOST,
    MAX_SHOP_ID,
    MAX_USER_ID,
    ROUTE_OF,
    SEARCH_TERMS,
    STATIC_BUNDLES,
    image_asset,
    order_uuid,
    popular_product,
    products_of_shop,
    shop_of,
)

__all__ = ["Burst", "Emitted", "Habits", "Visitor", "browse", "event"]

#: One request: (epoch milliseconds, event dict).
Emitted = tuple[int, dict[str, Any]]
#: What every simulated actor yields: a page view's requests (or a single request), in
#: order; the next burst starts after this one's first request.
Burst = list[Emitted]

(HOME, SEARCH, PRODUCT, MORE_REVIEWS, REVIEWER, SHOP, CART, ADD, CHECKOUT, ORDERS, ORDER,
 PROFILE) = range(12)  # fmt: skip
_ACCOUNT_ONLY = frozenset({CHECKOUT, ORDERS, ORDER, PROFILE})
_TRANSITIONS: dict[int, tuple[tuple[int, float], ...]] = {
    HOME: ((SEARCH, 45), (PRODUCT, 25), (SHOP, 12), (CART, 6), (ORDERS, 6), (PROFILE, 3)),
    SEARCH: ((PRODUCT, 65), (SEARCH, 20), (SHOP, 7), (HOME, 5), (CART, 3)),
    PRODUCT: ((PRODUCT, 30), (SEARCH, 22), (ADD, 12), (MORE_REVIEWS, 8), (REVIEWER, 2),
              (SHOP, 10), (CART, 8), (HOME, 5)),
    MORE_REVIEWS: ((PRODUCT, 50), (REVIEWER, 5), (SEARCH, 25), (ADD, 10), (HOME, 10)),
    REVIEWER: ((PRODUCT, 70), (SEARCH, 30)),
    SHOP: ((PRODUCT, 70), (SEARCH, 15), (HOME, 10), (SHOP, 5)),
    CART: ((CHECKOUT, 35), (PRODUCT, 25), (SEARCH, 25), (HOME, 15)),
    ADD: ((CART, 40), (PRODUCT, 30), (SEARCH, 30)),
    CHECKOUT: ((ORDERS, 50), (HOME, 50)),
    ORDERS: ((ORDER, 50), (HOME, 30), (SEARCH, 20)),
    ORDER: ((ORDERS, 30), (HOME, 30), (PRODUCT, 40)),
    PROFILE: ((HOME, 50), (ORDERS, 30), (SEARCH, 20)),
}  # fmt: skip
_EXTERNAL_REFERERS = (
    None, None, None, "https://www.google.com/", "https://www.google.com/",
    "https://www.bing.com/", "https://www.instagram.com/", "https://t.co/",
)  # fmt: skip
_SERVER_ERRORS = (500, 502, 503)


@cache
def _table(logged_in: bool, reviewer_weight: float) -> dict[int, tuple[tuple[int, ...], ...]]:
    """Cumulative transition tables (weights scaled to 0..1) without impossible pages."""
    out: dict[int, tuple[tuple[int, ...], ...]] = {}
    for state, row in _TRANSITIONS.items():
        kept = [
            (nxt, w * (reviewer_weight if nxt == REVIEWER else 1.0))
            for nxt, w in row
            if logged_in or nxt not in _ACCOUNT_ONLY
        ]
        total = sum(w for _, w in kept)
        acc, cum = 0.0, []
        for nxt, w in kept:
            acc += w / total
            cum.append((int(acc * 1_000_000), nxt))
        cum[-1] = (1_000_001, cum[-1][1])
        out[state] = tuple(cum)
    return out


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who browses: an account (with its user id) or an anonymous visitor."""

    account: str | None
    uid: int | None
    ips: tuple[str, ...]
    user_agent: str


@dataclass(frozen=True, slots=True)
class Habits:
    """How a visitor browses.

    ``reviewer_weight`` scales how often a review author's profile is opened (0 = never);
    ``focus_shop`` sends every session to one shop and mostly its first products.
    """

    think_median_s: float = 15.0
    think_sigma: float = 1.1
    pages_mean: float = 12.0
    reviewer_weight: float = 1.0
    login_p: float = 0.25
    focus_shop: int | None = None
    focus_products: int = 5


def event(  # noqa: PLR0917  (hot path: one positional call per event)
    ms: int, ip: str, method: str, path: str, status: int, account: str | None,
    route: str | None, nbytes: int, agent: str, session: str | None, referer: str | None,
) -> dict[str, Any]:  # fmt: skip
    """One event dict in the request contract (``route`` omitted when ``None``)."""
    ev: dict[str, Any] = {
        "ts": ms / 1000, "client_ip": ip, "method": method, "path": path, "status": status,
        "account": account, "bytes": nbytes, "user_agent": agent, "session": session,
        "referer": referer,
    }  # fmt: skip
    if route is not None:
        ev["route"] = route
    return ev


def browse(  # noqa: PLR0912, PLR0915  (one flat state machine: handlers per page would cost a call per event)
    rng: random.Random,
    who: Visitor,
    habits: Habits,
    *,
    session_starts_ms: list[int],
    end_ms: int,
    route_share: float,
) -> Iterator[Burst]:
    """Yield the visitor's requests (a burst per page view) for ``session_starts_ms``.

    Sessions never overlap (a session starts after the previous one ended) and nothing
    is emitted at or after ``end_ms``.
    """
    rand, gauss, exp = rng.random, rng.gauss, math.exp
    think_sigma = habits.think_sigma
    logged_in = who.account is not None
    table = _table(logged_in, habits.reviewer_weight)
    think_mu = math.log(habits.think_median_s * 1000.0)
    exit_p = 1.0 / max(habits.pages_mean, 1.0)
    account, agent, uid = who.account, who.user_agent, who.uid
    focus = products_of_shop(habits.focus_shop, habits.focus_products) if habits.focus_shop else []
    last = 0
    buf: list[Emitted] = []

    def emit(ms: int, method: str, path: str, status: int, endpoint: str, size: int,  # noqa: PLR0917  (hot path)
             referer: str | None) -> None:  # fmt: skip
        nonlocal last
        ms = last + 1 if ms <= last else ms
        if ms >= end_ms:
            return
        last = ms
        ev = {
            "ts": ms / 1000, "client_ip": ip, "method": method, "path": path, "status": status,
            "account": account, "bytes": int(size * (0.6 + 0.8 * rand())), "user_agent": agent,
            "session": session, "referer": referer,
        }  # fmt: skip
        if rand() < route_share:
            ev["route"] = ROUTE_OF[endpoint]
        buf.append((ms, ev))

    def status_of(ok: int) -> int:
        return _SERVER_ERRORS[int(rand() * 3)] if rand() < 0.002 else ok

    ip = who.ips[0]
    session: str | None = None
    for start in session_starts_ms:
        t = max(start, last + 1_000)
        if t >= end_ms:
            return
        ip = who.ips[0] if len(who.ips) == 1 or rand() < 0.75 else rng.choice(who.ips[1:])
        session = f"{rng.getrandbits(64):016x}"
        referer = _EXTERNAL_REFERERS[int(rand() * len(_EXTERNAL_REFERERS))]
        if logged_in and rand() < habits.login_p:
            failed = rand() < 0.05
            emit(t, "POST", "/login", 401 if failed else 200, "POST /login", 350, None)
            if failed:
                t += int(4_000 + 8_000 * rand())
                emit(t, "POST", "/login", 200, "POST /login", 350, None)
            t += int(500 + 1_500 * rand())
            referer = HOST + "/"
        if focus:
            state = SHOP
        else:
            u = rand()
            state = HOME if u < 0.35 else SEARCH if u < 0.6 else PRODUCT if u < 0.9 else SHOP
        shop = habits.focus_shop or 0
        product = 0
        prev = state
        first_page = True
        while t < end_ms:
            # -- the page view and its sub-requests --------------------------------------
            sub = t + int(30 + 120 * rand())
            if state == HOME:
                path = "/"
                emit(t, "GET", path, status_of(200), "GET /", 42_000, referer)
            elif state == SEARCH:
                path = f"/search?q={SEARCH_TERMS[int(rand() * len(SEARCH_TERMS))]}"
                emit(t, "GET", path, status_of(200), "GET /search", 61_000, referer)
                for _ in range(2):
                    sub += int(20 + 80 * rand())
                    emit(sub, "GET", image_asset(popular_product(rand())),
                         200 if rand() < 0.7 else 304, "GET /static/{asset}", 18_000,
                         HOST + path)  # fmt: skip
            elif state in (PRODUCT, MORE_REVIEWS):
                if state == PRODUCT or not product:
                    if focus and rand() < 0.8:
                        product = focus[int(rand() * len(focus))]
                    elif prev == SHOP and rand() < 0.7:
                        product = products_of_shop(shop, 1)[0] + MAX_SHOP_ID * int(rand() * 40)
                    else:
                        product = popular_product(rand())
                    path = f"/products/{product}"
                    status = 404 if rand() < 0.012 else status_of(200)
                    emit(t, "GET", path, status, "GET /products/{id}", 88_000, referer)
                    sub += int(40 + 150 * rand())
                    emit(sub, "GET", image_asset(product), 200 if rand() < 0.7 else 304,
                         "GET /static/{asset}", 24_000, HOST + path)  # fmt: skip
                    shop = shop_of(product) if not focus else shop
                    if rand() < 0.75:
                        sub += int(60 + 200 * rand())
                        emit(sub, "GET", f"/api/products/{product}/reviews", status_of(200),
                             "GET /api/products/{id}/reviews", 9_000, HOST + path)  # fmt: skip
                else:
                    page = 2 + int(rand() * 4)
                    emit(t, "GET", f"/api/products/{product}/reviews?page={page}",
                         status_of(200), "GET /api/products/{id}/reviews", 9_000,
                         HOST + f"/products/{product}")  # fmt: skip
                    path = f"/products/{product}"
            elif state == REVIEWER:
                reviewer = 1 + int(rand() * MAX_USER_ID)
                path = f"/products/{product}"
                emit(t, "GET", f"/api/users/{reviewer}/profile", 404 if rand() < 0.01 else 200,
                     "GET /api/users/{id}/profile", 1_400, HOST + path)  # fmt: skip
                if rand() < 0.4:
                    emit(sub + 2_000 + int(6_000 * rand()), "GET",
                         f"/api/users/{reviewer}/comments", 200, "GET /api/users/{id}/comments",
                         6_500, HOST + path)  # fmt: skip
            elif state == SHOP:
                if not (focus or prev in (PRODUCT, MORE_REVIEWS)):
                    shop = 1 + int(rand() * MAX_SHOP_ID)
                path = f"/shops/{shop}"
                emit(t, "GET", path, status_of(200), "GET /shops/{id}", 54_000, referer)
                for p in products_of_shop(shop, 2):
                    sub += int(20 + 80 * rand())
                    emit(sub, "GET", image_asset(p), 200 if rand() < 0.7 else 304,
                         "GET /static/{asset}", 18_000, HOST + path)  # fmt: skip
            elif state == CART:
                path = "/cart"
                emit(t, "GET", path, status_of(200), "GET /cart", 12_000, referer)
            elif state == ADD:
                emit(t, "POST", "/cart/items", status_of(201), "POST /cart/items", 600, referer)
                path = "/cart"
            elif state == CHECKOUT:
                path = "/checkout"
                if rand() < 0.3:
                    emit(t - 1_500, "GET", f"/api/users/{uid}/phone", 200,
                         "GET /api/users/{id}/phone", 300, HOST + "/cart")  # fmt: skip
                status = 200 if rand() < 0.9 else (402 if rand() < 0.7 else 409)
                emit(t, "POST", path, status_of(status), "POST /checkout", 2_000, referer)
            elif state == ORDERS:
                path = "/account/orders"
                emit(t, "GET", path, status_of(200), "GET /account/orders", 16_000, referer)
            elif state == ORDER:
                path = f"/account/orders/{order_uuid(rng)}"
                emit(t, "GET", path, status_of(200), "GET /account/orders/{id}", 7_000, referer)
            else:  # PROFILE: the account's own profile page
                path = "/account"
                emit(t, "GET", f"/api/users/{uid}/profile", 200, "GET /api/users/{id}/profile",
                     1_400, referer)  # fmt: skip
            if first_page:
                for bundle in STATIC_BUNDLES:
                    sub += int(10 + 60 * rand())
                    emit(sub, "GET", bundle, 200 if rand() < 0.4 else 304, "GET /static/{asset}",
                         150_000, HOST + path)  # fmt: skip
                first_page = False
            if logged_in and rand() < 0.35:
                emit(sub + int(50 + 300 * rand()), "GET", "/cart", 200, "GET /cart", 1_200,
                     HOST + path)  # fmt: skip
            if buf:
                yield buf
                buf = []
            # -- where next, and after how long -------------------------------------------
            if rand() < exit_p or (state == CHECKOUT and rand() < 0.5):
                break
            referer = HOST + path
            prev = state
            cut = int(rand() * 1_000_000)
            for bound, nxt in table[state]:
                if cut < bound:
                    state = nxt
                    break
            think = exp(think_mu + think_sigma * gauss())
            t = last + 200 + (900_000 if think > 900_000 else int(think))
