"""The simulated shop: its routes, id spaces, user agents and address space.

Other modules use the route lists as ground truth (``SITE_ROUTES``, ``SENSITIVE_ROUTES``);
the simulator uses the helpers to draw concrete paths, user agents and client IPs.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

__all__ = [
    "ACCOUNT_ROUTES",
    "BROWSER_AGENTS",
    "HOST",
    "MAX_PRODUCT_ID",
    "MAX_SHOP_ID",
    "MAX_USER_ID",
    "ROUTE_OF",
    "SCRIPTED_AGENTS",
    "SEARCH_TERMS",
    "SENSITIVE_ROUTES",
    "SITE_ROUTES",
    "STATIC_BUNDLES",
    "AddressBook",
    "diurnal",
    "image_asset",
    "order_uuid",
    "popular_product",
    "products_of_shop",
    "shop_of",
]

HOST = "https://shop.example"
MAX_PRODUCT_ID = 200_000
MAX_SHOP_ID = 5_000
MAX_USER_ID = 5_000_000

#: Every endpoint of the site as ``METHOD /route`` templates (``{id}`` marks a resource id).
SITE_ROUTES: tuple[str, ...] = (
    "GET /",
    "GET /search",
    "GET /products/{id}",
    "GET /api/products/{id}/reviews",
    "GET /shops/{id}",
    "GET /cart",
    "POST /cart/items",
    "POST /checkout",
    "POST /login",
    "GET /account/orders",
    "GET /account/orders/{id}",
    "GET /static/{asset}",
    "GET /health",
    "GET /api/users/{id}/profile",
    "GET /api/users/{id}/phone",
    "GET /api/users/{id}/comments",
)

#: Endpoints that expose personal data: what an enumerating crawler is after.
SENSITIVE_ROUTES: tuple[str, ...] = (
    "GET /api/users/{id}/profile",
    "GET /api/users/{id}/phone",
    "GET /api/users/{id}/comments",
)

#: Endpoints that only make sense for a logged-in account.
ACCOUNT_ROUTES: tuple[str, ...] = (
    "POST /checkout",
    "GET /account/orders",
    "GET /account/orders/{id}",
)

#: The app's own ``route`` field (no method) for each endpoint.
ROUTE_OF: dict[str, str] = {e: e.split(" ", 1)[1] for e in SITE_ROUTES}

STATIC_BUNDLES: tuple[str, ...] = (
    "/static/app.3f9a2c1b.js",
    "/static/vendor.9c1d44e0.js",
    "/static/app.b71e2a90.css",
)

SEARCH_TERMS: tuple[str, ...] = (
    "red+shoes", "running+shoes", "phone+case", "usb-c+cable", "wireless+earbuds",
    "winter+jacket", "coffee+grinder", "yoga+mat", "desk+lamp", "backpack", "water+bottle",
    "kids+toys", "lego", "gaming+mouse", "mechanical+keyboard", "monitor+stand", "air+fryer",
    "rice+cooker", "blender", "sunglasses", "watch+strap", "wallet", "linen+shirt", "jeans",
    "sneakers", "socks", "hoodie", "tent", "sleeping+bag", "camping+stove", "bike+light",
    "helmet", "dog+food", "cat+litter", "notebook", "fountain+pen", "printer+paper", "sofa+cover",
    "pillow", "bedsheet", "curtains", "skin+care", "sunscreen", "shampoo", "perfume", "lipstick",
    "vitamin+c", "protein+powder", "tea+set", "green+tea", "chocolate", "olive+oil",
)  # fmt: skip

_CHROME = (
    "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} "
    "{mobile}Safari/537.36"
)
_LINUX = "X11; Linux x86_64"
_DESKTOP_OS = (
    "Windows NT 10.0; Win64; x64",
    "Macintosh; Intel Mac OS X 10_15_7",
    _LINUX,
)
_ANDROID_OS = ("Linux; Android 10; K", "Linux; Android 13; SM-S911B", "Linux; Android 14; Pixel 8")


def _browser_agents() -> tuple[str, ...]:
    agents: list[str] = []
    for v, b in ((126, 6478), (128, 6613), (130, 6723), (131, 6778)):
        for os_ in _DESKTOP_OS:
            agents.append(_CHROME.format(os=os_, v=v, b=b, p=(v * 7) % 200, mobile=""))
        for os_ in _ANDROID_OS:
            agents.append(_CHROME.format(os=os_, v=v, b=b, p=(v * 3) % 150, mobile="Mobile "))
    for v in (128, 131, 133):
        for os_ in ("Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 14.5", _LINUX):
            agents.append(f"Mozilla/5.0 ({os_}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")
    for ver in ("17.5", "17.6", "18.1"):
        agents.append(
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {ver.replace('.', '_')} like Mac OS X) "
            f"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{ver} Mobile/15E148 Safari/604.1"
        )
        agents.append(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{ver} Safari/605.1.15"
        )
    agents.append(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
    )
    return tuple(agents)


#: Real-looking browser user agents (one per benign account).
BROWSER_AGENTS: tuple[str, ...] = _browser_agents()

#: Clients that do not pretend to be a browser.
SCRIPTED_AGENTS: tuple[str, ...] = (
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "curl/8.5.0",
    "python-httpx/0.27.2",
)

_MASK128 = (1 << 128) - 1


@lru_cache(maxsize=1 << 16)
def image_asset(product_id: int) -> str:
    """Content-addressed thumbnail of a product: ``/static/<32 hex>.webp``."""
    return f"/static/{(product_id * 0x9E3779B97F4A7C15F39CC0605CEDC835) & _MASK128:032x}.webp"


def order_uuid(rng: random.Random) -> str:
    """A random (version 4 shaped) order id."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


_SHOP_MULTIPLIER = 2_654_435_761
_SHOP_INVERSE = pow(_SHOP_MULTIPLIER % MAX_SHOP_ID, -1, MAX_SHOP_ID)


def shop_of(product_id: int) -> int:
    """The shop that sells a product (a fixed scatter of products over shops)."""
    return (product_id * _SHOP_MULTIPLIER) % MAX_SHOP_ID + 1


def products_of_shop(shop_id: int, count: int) -> list[int]:
    """The first ``count`` (at most 40) product ids sold by ``shop_id`` (inverts ``shop_of``)."""
    base = ((shop_id - 1) * _SHOP_INVERSE) % MAX_SHOP_ID or MAX_SHOP_ID
    return list(range(base, MAX_PRODUCT_ID + 1, MAX_SHOP_ID))[:count]


def popular_product(u: float) -> int:
    """Product id of popularity rank ~ ``MAX_PRODUCT_ID ** u`` (heavy head, long tail).

    ``u`` is uniform in [0, 1); ranks are scattered over the id space so that popular
    products are not the low ids.
    """
    rank = int(MAX_PRODUCT_ID**u)
    return (rank * 7_919 + 104_729) % MAX_PRODUCT_ID + 1


def diurnal(epoch_s: float, tz_offset_hours: float) -> float:
    """Relative activity in (0, 1] of the shop's audience at ``epoch_s``.

    Trough at 04:00 local time, peak at 16:00-ish, never below 0.12.
    """
    hour = ((epoch_s / 3600.0) + tz_offset_hours) % 24.0
    return 0.12 + 0.88 * (1.0 - math.cos(2.0 * math.pi * (hour - 4.0) / 24.0)) / 2.0


_RESERVED_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, 224})


class AddressBook:
    """Hands out distinct public-looking IPv4 addresses and /24 prefixes, reproducibly."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used_prefixes: set[int] = set()
        self._used_ips: set[int] = set()

    def _fresh_prefix(self) -> int:
        while True:
            first = self._rng.randint(1, 223)
            if first in _RESERVED_FIRST_OCTETS:
                continue
            prefix = (first << 16) | self._rng.getrandbits(16)
            if prefix not in self._used_prefixes:
                return prefix

    def reserve_prefix(self) -> str:
        """A /24 nobody else gets addresses from, as ``"a.b.c"``."""
        prefix = self._fresh_prefix()
        self._used_prefixes.add(prefix)
        return f"{prefix >> 16}.{(prefix >> 8) & 255}.{prefix & 255}"

    def ip(self) -> str:
        """A fresh address outside every reserved prefix."""
        while True:
            prefix = self._fresh_prefix()
            addr = (prefix << 8) | self._rng.randint(2, 254)
            if addr not in self._used_ips:
                self._used_ips.add(addr)
                return f"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}"
