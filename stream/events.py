"""The request-event contract (topic ``requests``), validated here and nowhere else.

:func:`parse_event` turns the bytes of one Kafka message into a
:class:`~detectors.events.Request` or a :class:`Rejection`; it never raises. A rejection
carries a reason from the fixed set :data:`REASONS` (a bounded Prometheus label), the
field at fault and a message saying what was expected and what came.

>>> parse_event(b'{"ts": 1714564800, "client_ip": "10.0.0.1", "method": "get",'
...             b' "path": "/api/users/7?x=1", "status": 200}')
Request(ts=1714564800.0, client_ip='10.0.0.1', method='GET', path='/api/users/7', status=200, \
account=None, route=None, bytes=None, user_agent=None, session=None, referer=None)
>>> parse_event(b'{"ts": 1714564800, "client_ip": "10.0.0.1", "method": "GET",'
...             b' "path": "/", "status": "200x"}').message
"field 'status': expected integer 100..599, got string '200x'"
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv6Address
from typing import Any, Final, Literal

from detectors.events import Request
from stream import codec

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_STRING_CHARS",
    "OPTIONAL_FIELDS",
    "REASONS",
    "REQUIRED_FIELDS",
    "TS_MAX",
    "TS_MIN",
    "RejectReason",
    "Rejection",
    "encode_event",
    "event_from_obj",
    "event_key",
    "parse_event",
]

RejectReason = Literal[
    "not_utf8", "not_json", "too_large", "not_object", "missing_field", "wrong_type", "bad_value"
]
#: Every rejection reason; the label values of the DLQ metric.
REASONS: Final[tuple[RejectReason, ...]] = (
    "not_utf8", "not_json", "too_large", "not_object", "missing_field", "wrong_type", "bad_value",
)  # fmt: skip
REQUIRED_FIELDS: Final = ("ts", "client_ip", "method", "path", "status")
OPTIONAL_FIELDS: Final = ("account", "route", "bytes", "user_agent", "session", "referer")

#: Largest accepted message value, in bytes (a request event is typically ~300 bytes).
MAX_MESSAGE_BYTES: Final = 64 * 1024
#: Longest accepted value of each string field, in characters.
MAX_STRING_CHARS: Final[dict[str, int]] = {
    "ts": 64,  # an RFC 3339 text
    "client_ip": 64,  # 45 for the longest IPv6 text, plus room for a zone id
    "method": 32,  # longest registered method is 17 characters
    "path": 8192,  # whole request target, query included, as most servers allow
    "account": 256,
    "route": 512,
    "user_agent": 2048,
    "session": 256,
    "referer": 8192,
}
#: Accepted event time, epoch seconds: [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z).
TS_MIN: Final = 946_684_800.0
TS_MAX: Final = 4_102_444_800.0
_MAX_BYTES_VALUE: Final = 2**63 - 1  # Kafka and Prometheus think in signed 64-bit

_TS_EXPECTED: Final = "epoch seconds (number) or RFC 3339 string"
_IP_EXPECTED: Final = "IPv4 or IPv6 address string"
_METHOD_EXPECTED: Final = "HTTP method token"
_PATH_EXPECTED: Final = "string starting with '/'"
_STATUS_EXPECTED: Final = "integer 100..599"
_BYTES_EXPECTED: Final = "integer >= 0 or null"
_STANDARD_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                            "PATCH")  # fmt: skip
_METHODS: Final[dict[str, str]] = {
    **{m: m for m in _STANDARD_METHODS},
    **{m.lower(): m for m in _STANDARD_METHODS},
}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:([0-9]{2})"
    r"(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_FIELDS: Final = Request._fields
_AF_INET: Final = socket.AF_INET
_AF_INET6: Final = socket.AF_INET6
_TEN_ZERO_BYTES: Final = bytes(10)
_inet_pton = socket.inet_pton
_inet_ntop = socket.inet_ntop
_loads = codec.loads
_JSONDecodeError = codec.JSONDecodeError
# private copies of the limits, C numbers in the compiled build (events.pxd)
_TS_LOW: float = TS_MIN
_TS_HIGH: float = TS_MAX
_METHOD_CHARS: Final = MAX_STRING_CHARS["method"]
_PATH_CHARS: Final = MAX_STRING_CHARS["path"]
_ACCOUNT_CHARS: Final = MAX_STRING_CHARS["account"]
_ROUTE_CHARS: Final = MAX_STRING_CHARS["route"]
_AGENT_CHARS: Final = MAX_STRING_CHARS["user_agent"]
_SESSION_CHARS: Final = MAX_STRING_CHARS["session"]
_REFERER_CHARS: Final = MAX_STRING_CHARS["referer"]
#: Client IP texts already validated -> their canonical form (cleared when full).
_IPS: dict[str, str] = {}
_IP_CACHE_LIMIT: Final = 1 << 16
_new_tuple = tuple.__new__


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one message is not a valid request event.

    ``reason`` is one of :data:`REASONS`; ``field`` names the field at fault (``None`` when
    the message as a whole is bad); ``message`` is for people.
    """

    reason: RejectReason
    field: str | None
    message: str


def parse_event(raw: bytes | bytearray | memoryview | None) -> Request | Rejection:
    """Decode and validate the value of one ``requests`` message; never raises."""
    if raw is None:
        return Rejection("not_json", None, "message: expected a JSON object, got no value (null)")
    try:
        size = len(raw)
        if size > MAX_MESSAGE_BYTES:
            return Rejection(
                "too_large",
                None,
                f"message: expected at most {MAX_MESSAGE_BYTES} bytes, got {size} bytes",
            )
        obj = _loads(raw)
    except _JSONDecodeError as exc:
        return _undecodable(raw, exc)
    except TypeError:
        return Rejection("not_json", None, f"message: expected bytes, got {type(raw).__name__}")
    return event_from_obj(obj)


def event_from_obj(obj: object) -> Request | Rejection:  # noqa: PLR0911, PLR0912, PLR0915  (flat for speed: hot path)
    """Validate an already decoded JSON value (a replayed JSON line, a test dict)."""
    if not isinstance(obj, dict):
        return Rejection(
            "not_object", None, f"message: expected a JSON object, got {_describe(obj)}"
        )
    # the eleven fields, validated below in contract order; ``d`` is an exact dict (what
    # orjson gives), which the compiled build types as such (events.pxd): each get() is
    # then a C dict lookup instead of a method call
    d: dict[Any, Any] = obj if type(obj) is dict else dict(obj)
    raw_ts: Any = d.get("ts")
    ip: Any = d.get("client_ip")
    method: Any = d.get("method")
    path: Any = d.get("path")
    status: Any = d.get("status")
    account: Any = d.get("account")
    route: Any = d.get("route")
    size: Any = d.get("bytes")
    agent: Any = d.get("user_agent")
    session: Any = d.get("session")
    referer: Any = d.get("referer")

    ts: float
    kind = type(raw_ts)
    if kind is float:  # what JSON producers send: compared as a C double when compiled
        ts = raw_ts
        if not _TS_LOW <= ts < _TS_HIGH:  # NaN fails every comparison
            return _bad_ts(raw_ts, _describe(raw_ts))
    elif kind is int:  # compared as an integer first: 10**400 has no float
        if not TS_MIN <= raw_ts < TS_MAX:
            return _bad_ts(raw_ts, _describe(raw_ts))
        ts = float(raw_ts)
    elif kind is str:
        parsed = _parse_rfc3339(raw_ts)
        if type(parsed) is Rejection:
            return parsed
        ts = parsed  # type: ignore[assignment]  # narrowed by the exact type check above
    else:
        return _wrong(obj, "ts", raw_ts, _TS_EXPECTED)

    if type(ip) is not str:
        return _wrong(obj, "client_ip", ip, _IP_EXPECTED)
    canonical = _IPS.get(ip)
    if canonical is None:
        canonical = _canonical_ip(ip)
        if canonical is None:
            return _bad("client_ip", ip, "IPv4 or IPv6 address")

    if type(method) is not str:
        return _wrong(obj, "method", method, _METHOD_EXPECTED)
    known = _METHODS.get(method)
    if known is None:
        if len(method) > _METHOD_CHARS or not _TOKEN.fullmatch(method):
            return _bad(
                "method", method, f"HTTP method token of at most {_METHOD_CHARS} characters"
            )
        known = method.upper()

    if type(path) is not str:
        return _wrong(obj, "path", path, _PATH_EXPECTED)
    if path[:1] != "/" or len(path) > _PATH_CHARS or not path.isprintable():
        return _bad(
            "path",
            path,
            f"printable string starting with '/' of at most {_PATH_CHARS} characters",
        )
    if "?" in path:
        path = path.partition("?")[0]
    if "#" in path:
        path = path.partition("#")[0]

    if type(status) is not int:
        return _wrong(obj, "status", status, _STATUS_EXPECTED)
    if not 100 <= status <= 599:
        return _bad("status", status, _STATUS_EXPECTED)

    if account is not None:
        if type(account) is not str or len(account) > _ACCOUNT_CHARS:
            return _bad_optional("account", account)
        if not account:
            account = None
    if route is not None:
        if type(route) is not str or len(route) > _ROUTE_CHARS:
            return _bad_optional("route", route)
        if not route:
            route = None
    if size is not None:
        if type(size) is not int:
            return _wrong(obj, "bytes", size, _BYTES_EXPECTED)
        if not 0 <= size <= _MAX_BYTES_VALUE:
            return _bad("bytes", size, f"integer 0..{_MAX_BYTES_VALUE}")
    if agent is not None:
        if type(agent) is not str or len(agent) > _AGENT_CHARS:
            return _bad_optional("user_agent", agent)
        if not agent:
            agent = None
    if session is not None:
        if type(session) is not str or len(session) > _SESSION_CHARS:
            return _bad_optional("session", session)
        if not session:
            session = None
    if referer is not None:
        if type(referer) is not str or len(referer) > _REFERER_CHARS:
            return _bad_optional("referer", referer)
        if not referer:
            referer = None

    # what Request(...) does, minus the Python-level __new__ frame
    return _new_tuple(
        Request, (ts, canonical, known, path, status, account, route, size, agent, session, referer)
    )


def encode_event(request: Request) -> bytes:
    """The ``requests`` message value for ``request`` (what producers and the simulator send).

    >>> encode_event(Request(ts=1.5, client_ip="::1", method="GET", path="/", status=200))[:40]
    b'{"ts":1.5,"client_ip":"::1","method":"GE'
    """
    return codec.dumps(dict(zip(_FIELDS, request, strict=True)))


def event_key(request: Request) -> bytes:
    """The ``requests`` message key: the account, else the client IP (see DESIGN.md)."""
    return request.entity.encode()


def _parse_rfc3339(text: str) -> float | Rejection:
    match = _RFC3339.fullmatch(text) if len(text) <= MAX_STRING_CHARS["ts"] else None
    if match is None:
        return _bad("ts", text, "RFC 3339 date-time such as '2024-05-01T12:00:00Z'")
    normal = text
    if match.group(1) == "60":  # a leap second: count it as the last instant of :59
        normal = f"{text[: match.start(1)]}59.999999{text[match.end(2 if match.group(2) else 1) :]}"
    if normal[-1] == "z":
        normal = normal[:-1] + "Z"
    try:
        ts = datetime.fromisoformat(normal).timestamp()
    except (ValueError, OverflowError):
        return _bad("ts", text, "RFC 3339 date-time with a valid calendar date and time")
    if not TS_MIN <= ts < TS_MAX:
        return _bad_ts(ts, repr(text))
    return ts


def _canonical_ip(text: str) -> str | None:
    """Canonical text of an IPv4 or IPv6 address (remembered); None if invalid."""
    canonical: str | None
    if ":" in text:
        canonical = _canonical_ipv6(text)
        if canonical is None:
            return None
    else:
        try:
            _inet_pton(_AF_INET, text)
        except (OSError, ValueError):
            return None
        canonical = text
    if len(_IPS) >= _IP_CACHE_LIMIT:
        _IPS.clear()
    _IPS[text] = canonical
    return canonical


def _canonical_ipv6(text: str) -> str | None:
    """Canonical (RFC 5952) text of an IPv6 address, IPv4-mapped as IPv4; None if invalid."""
    if len(text) > MAX_STRING_CHARS["client_ip"]:
        return None
    try:
        packed = _inet_pton(_AF_INET6, text)
    except (OSError, ValueError):  # not an address, or one with a zone id ("fe80::1%eth0")
        return _canonical_ipv6_slow(text)
    if packed[:10] != _TEN_ZERO_BYTES:
        return _inet_ntop(_AF_INET6, packed)  # ~0.5 us where ipaddress takes ~10 us
    return _canonical_ipv6_slow(text)  # libc would print ::/96 and ::ffff:0:0/96 dotted


def _canonical_ipv6_slow(text: str) -> str | None:
    try:
        address = IPv6Address(text)
    except ValueError:
        return None
    mapped = address.ipv4_mapped
    return str(mapped) if mapped is not None else str(address)


def _undecodable(raw: bytes | bytearray | memoryview, exc: ValueError) -> Rejection:
    try:
        bytes(raw).decode("utf-8")
    except TypeError:  # a str that orjson refused (lone surrogates): not bytes at all
        pass
    except UnicodeDecodeError as bad:
        return Rejection(
            "not_utf8",
            None,
            f"message: expected UTF-8 text, got byte 0x{bad.object[bad.start]:02x} "
            f"at offset {bad.start} ({bad.reason})",
        )
    return Rejection(
        "not_json", None, f"message: expected one JSON document, got invalid JSON ({exc})"
    )


def _wrong(obj: dict[object, object], field: str, value: object, expected: str) -> Rejection:
    if value is None:
        got = "null" if field in obj else "nothing (the field is absent)"
        return Rejection(
            "missing_field", field, f"field '{field}': required, expected {expected}, got {got}"
        )
    return Rejection(
        "wrong_type", field, f"field '{field}': expected {expected}, got {_describe(value)}"
    )


def _bad(field: str, value: object, expected: str) -> Rejection:
    return Rejection(
        "bad_value", field, f"field '{field}': expected {expected}, got {_describe(value)}"
    )


def _bad_ts(ts: object, shown: str) -> Rejection:
    hint = (
        " (milliseconds? expected seconds)"
        if isinstance(ts, int | float) and TS_MIN * 1000 <= ts < TS_MAX * 1000
        else ""
    )
    return Rejection(
        "bad_value",
        "ts",
        "field 'ts': expected a time between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z, "
        f"got {shown}{hint}",
    )


def _bad_optional(field: str, value: object) -> Rejection:
    limit = MAX_STRING_CHARS[field]
    expected = f"string of at most {limit} characters or null"
    if isinstance(value, str):
        return _bad(field, value, expected)
    return Rejection(
        "wrong_type", field, f"field '{field}': expected {expected}, got {_describe(value)}"
    )


def _describe(value: object) -> str:  # noqa: PLR0911  (one return per JSON type)
    """Name a JSON value's type and show a short, safe excerpt of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        if -(10**30) < value < 10**30:
            return f"integer {value}"
        return f"integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        if len(value) <= 40:
            return f"string {value!r}"
        return f"string {value[:40]!r}... ({len(value)} characters)"
    if isinstance(value, list):
        return f"array of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return f"object with {len(value)} key{'' if len(value) == 1 else 's'}"
    return type(value).__name__
