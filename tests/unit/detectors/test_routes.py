"""Route templating and route classification."""

from __future__ import annotations

import pytest

from detectors.config import DEFAULT_SENSITIVE_ROUTES
from detectors.routes import OTHER, Routes, template
from detectors.site import SENSITIVE_ROUTES


@pytest.mark.parametrize(
    ("path", "route", "ids"),
    [
        ("/", "/", ()),
        ("/search?q=red+shoes", "/search", ()),
        ("/api/users/42/profile", "/api/users/{id}/profile", ("42",)),
        ("/products/7?ref=home", "/products/{id}", ("7",)),
        (
            "/account/orders/6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab",
            "/account/orders/{id}",
            ("6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab",),
        ),
        ("/blobs/deadbeefcafebabe0123", "/blobs/{id}", ("deadbeefcafebabe0123",)),
        (
            "/static/00112233445566778899aabbccddeeff.webp",
            "/static/{id}",
            ("00112233445566778899aabbccddeeff.webp",),
        ),
        ("/static/app.3f9a2c1b.js", "/static/app.3f9a2c1b.js", ()),
        ("/v2/shops/12/items/34", "/v2/shops/{id}/items/{id}", ("12", "34")),
        ("/deadbeef", "/deadbeef", ()),  # short hex is a word, not an id
        ("/accessibility-statement", "/accessibility-statement", ()),
    ],
)
def test_template_replaces_numeric_uuid_and_long_hex_segments(
    path: str, route: str, ids: tuple[str, ...]
) -> None:
    assert template(path) == (route, ids)


def test_resolve_prefixes_the_method_and_caches_static_paths() -> None:
    r = Routes()
    assert r.resolve("GET", "/cart") == ("GET /cart", ())
    assert r.resolve("POST", "/cart") == ("POST /cart", ())
    assert r.resolve("GET", "/api/users/9/phone") == ("GET /api/users/{id}/phone", ("9",))


def test_the_apps_own_route_wins_and_supplies_the_ids() -> None:
    r = Routes()
    assert r.resolve("GET", "/u/alice/posts/77", "/u/{name}/posts/{post}") == (
        "GET /u/{name}/posts/{post}",
        ("alice", "77"),
    )
    assert r.resolve("GET", "/health", "/health") == ("GET /health", ())
    # a path shorter than its route does not crash: missing holes give no id
    assert r.resolve("GET", "/u", "/u/{name}") == ("GET /u/{name}", ())


def test_sensitive_and_known_routes_match_by_endpoint_or_bare_route() -> None:
    r = Routes(known=["/api/users/{id}", "GET /cart"], sensitive=["GET /api/users/{id}"])
    assert r.is_sensitive("GET /api/users/{id}")
    assert not r.is_sensitive("DELETE /api/users/{id}")
    assert r.label("DELETE /api/users/{id}") == "DELETE /api/users/{id}"
    assert r.label("GET /cart") == "GET /cart"
    assert r.label("POST /cart") == OTHER
    assert Routes().label("GET /anything") == "GET /anything"  # nothing configured: all known


def test_default_sensitive_routes_are_the_simulated_sites() -> None:
    assert set(SENSITIVE_ROUTES) <= DEFAULT_SENSITIVE_ROUTES


def test_classify_is_resolve_plus_is_sensitive_even_when_cached() -> None:
    r = Routes(sensitive=["/api/users/{id}/phone", "GET /u/{name}/posts/{post}"])
    cases = [
        ("GET", "/api/users/9/phone", None),
        ("POST", "/api/users/9/phone", None),
        ("GET", "/api/users/10/phone?x=1", None),
        ("GET", "/cart", None),
        ("GET", "/cart?y=/123", None),
        ("GET", "/static/00112233445566778899aabbccddeeff.webp", None),
        ("GET", "/u/alice/posts/77", "/u/{name}/posts/{post}"),
        ("POST", "/u/alice/posts/77", "/u/{name}/posts/{post}"),
        ("GET", "/u", "/u/{name}/posts/{post}"),
        ("GET", "/u/bob", "/u/{name}/posts/{post}"),
        ("GET", "/health", "/health"),
        ("GET", "/products/5", "/products/{id}"),
        ("GET", "/products", "/products/{id}"),
    ]
    for _ in range(2):  # the second pass is answered from the caches
        for method, path, route in cases:
            endpoint, ids = r.resolve(method, path, route)
            assert r.classify(method, path, route) == (endpoint, ids, r.is_sensitive(endpoint))
