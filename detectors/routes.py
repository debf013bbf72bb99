"""Route templating: ``GET /api/users/123/profile`` -> ``GET /api/users/{id}/profile``.

Numeric, UUID and long hex path segments become ``{id}``; the replaced segments are the
resource ids behind distinct-resource and enumeration features. The app's own ``route``
template wins when the event carries one. This runs once per event, so it uses string
methods and small caches, never a regular expression per segment.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["OTHER", "Routes", "template"]

OTHER = "other"
_HEX = frozenset("0123456789abcdefABCDEF")
_CACHE_LIMIT = 50_000
_NO_IDS: tuple[str, ...] = ()


def _is_long_id(seg: str) -> bool:
    """UUID, or hex of 16+ characters with an optional extension (content-addressed files).

    Callers check the length first.
    """
    if len(seg) == 36 and seg[8] == "-" and seg[13] == "-" and seg[18] == "-" and seg[23] == "-":
        return _HEX.issuperset(seg.replace("-", ""))
    dot = seg.find(".")
    if dot >= 0:
        return dot >= 16 and _HEX.issuperset(seg[:dot])
    return _HEX.issuperset(seg)


def template(path: str) -> tuple[str, tuple[str, ...]]:
    """The route template of ``path`` and the ids it replaced (query string ignored).

    >>> template("/api/users/0042/profile?x=1")
    ('/api/users/{id}/profile', ('0042',))
    >>> template("/s/6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab/deadbeefcafebabe/v2")
    ('/s/{id}/{id}/v2', ('6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab', 'deadbeefcafebabe'))
    >>> template("/static/00112233445566778899aabbccddeeff.webp")[0]
    '/static/{id}'
    """
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    segs = path.split("/")
    ids: list[str] | None = None
    for i, seg in enumerate(segs):  # isdigit and len first: most segments are short words
        if seg.isdigit() or (len(seg) >= 16 and _is_long_id(seg)):
            if ids is None:
                ids = []
            ids.append(seg)
            segs[i] = "{id}"
    if ids is None:
        return path, _NO_IDS
    return "/".join(segs), tuple(ids)


def _placeholders(route: str) -> tuple[int, ...]:
    return tuple(i for i, seg in enumerate(route.split("/")) if seg.startswith("{"))


class Routes:
    """Resolves events to endpoints and classifies them (known, sensitive).

    Parameters
    ----------
    known
        Routes or endpoints allowed as metric labels / endpoint keys (empty: all).
    sensitive
        Routes or endpoints whose resources are personal data.

    Examples
    --------
    >>> r = Routes(known=["/api/users/{id}"], sensitive=["/api/users/{id}"])
    >>> r.resolve("GET", "/api/users/7")
    ('GET /api/users/{id}', ('7',))
    >>> r.resolve("GET", "/api/users/7/x", "/api/users/{user}/x")
    ('GET /api/users/{user}/x', ('7',))
    >>> r.is_sensitive("GET /api/users/{id}"), r.label("GET /cart")
    (True, 'other')
    """

    def __init__(self, known: Iterable[str] = (), sensitive: Iterable[str] = ()) -> None:
        self.known = frozenset(known)
        self.sensitive = frozenset(sensitive)
        self._static: dict[str, str] = {}
        self._templates: dict[str, tuple[int, ...]] = {}
        self._sensitive_cache: dict[str, bool] = {}
        self._label_cache: dict[str, str] = {}
        # classify(): path (or app route) -> (method, endpoint, ids or holes, sensitive)
        self._by_path: dict[str, tuple[str, str, tuple[str, ...], bool]] = {}
        self._by_route: dict[str, tuple[str, str, tuple[int, ...], bool]] = {}

    def classify(
        self, method: str, path: str, route: str | None = None
    ) -> tuple[str, tuple[str, ...], bool]:
        """``(endpoint, resource ids, sensitive)``: ``resolve`` and ``is_sensitive`` in one.

        The per-event call: remembers the answer per path (and per app route), so a
        repeated path costs one dict lookup. Caches are bounded (cleared when full).

        >>> Routes(sensitive=["/u/{id}"]).classify("GET", "/u/7")
        ('GET /u/{id}', ('7',), True)
        """
        if route:
            hit = self._by_route.get(route)
            if hit is None or hit[0] != method:
                endpoint = f"{method} {route}"  # as resolve() names it
                hit = (method, endpoint, _placeholders(route), self.is_sensitive(endpoint))
                if len(self._by_route) >= _CACHE_LIMIT:
                    self._by_route.clear()
                self._by_route[route] = hit
            holes = hit[2]
            if not holes:
                return hit[1], _NO_IDS, hit[3]
            q = path.find("?")
            segs = (path if q < 0 else path[:q]).split("/")
            n = len(segs)
            if len(holes) == 1:
                i = holes[0]
                return hit[1], ((segs[i],) if i < n else ()), hit[3]
            return hit[1], tuple([segs[i] for i in holes if i < n]), hit[3]
        found = self._by_path.get(path)
        if found is None or found[0] != method:
            endpoint, ids = self.resolve(method, path)
            found = (method, endpoint, ids, self.is_sensitive(endpoint))
            if len(self._by_path) >= _CACHE_LIMIT:
                self._by_path.clear()
            self._by_path[path] = found
        return found[1], found[2], found[3]

    def resolve(
        self, method: str, path: str, route: str | None = None
    ) -> tuple[str, tuple[str, ...]]:
        """``(endpoint, resource ids)`` of one request."""
        if route:
            holes = self._templates.get(route)
            if holes is None:
                holes = _placeholders(route)
                if len(self._templates) < _CACHE_LIMIT:
                    self._templates[route] = holes
            if not holes:
                return f"{method} {route}", _NO_IDS
            q = path.find("?")
            segs = (path if q < 0 else path[:q]).split("/")
            return f"{method} {route}", tuple(segs[i] for i in holes if i < len(segs))
        static = self._static.get(path)
        if static is not None:
            return f"{method} {static}", _NO_IDS
        tmpl, ids = template(path)
        if not ids and len(self._static) < _CACHE_LIMIT:
            self._static[path] = tmpl
        return f"{method} {tmpl}", ids

    def is_sensitive(self, endpoint: str) -> bool:
        """Whether ``endpoint`` (``METHOD /route``) is configured as sensitive."""
        hit = self._sensitive_cache.get(endpoint)
        if hit is None:
            hit = self._matches(endpoint, self.sensitive)
            if len(self._sensitive_cache) < _CACHE_LIMIT:
                self._sensitive_cache[endpoint] = hit
        return hit

    def is_known(self, endpoint: str) -> bool:
        """Whether ``endpoint`` may be a metric label (every endpoint when none configured)."""
        return not self.known or self._matches(endpoint, self.known)

    def label(self, endpoint: str) -> str:
        """``endpoint`` when known, else ``"other"``: a bounded metric label."""
        hit = self._label_cache.get(endpoint)
        if hit is None:
            hit = endpoint if self.is_known(endpoint) else OTHER
            if len(self._label_cache) < _CACHE_LIMIT:
                self._label_cache[endpoint] = hit
        return hit

    @staticmethod
    def _matches(endpoint: str, names: frozenset[str]) -> bool:
        if endpoint in names:
            return True
        _, _, route = endpoint.partition(" ")
        return route in names
