"""The request-event contract: the required fields, one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from detectors.events import Request
from stream.events import (
    MAX_STRING_CHARS,
    REQUIRED_FIELDS,
    Rejection,
    event_from_obj,
    parse_event,
)
from tests.unit.stream.eventkit import ABSENT, TS, accepted, event, rejected


def test_minimal_event_is_a_request_with_optional_fields_none() -> None:
    r = accepted(event())
    assert r == Request(TS, "203.0.113.7", "GET", "/api/users/42/profile", 200)
    assert r.entity_type == "ip"


def test_full_event_keeps_every_field() -> None:
    r = accepted(
        event(account="acct-1", route="/api/users/{id}/profile", bytes=512,
              user_agent="curl/8.0", session="s1", referer="https://example.com/")
    )  # fmt: skip
    assert (r.account, r.route, r.bytes, r.user_agent, r.session, r.referer) == (
        "acct-1", "/api/users/{id}/profile", 512, "curl/8.0", "s1", "https://example.com/",
    )  # fmt: skip
    assert r.entity == "acct-1"


def test_unknown_fields_are_ignored() -> None:
    assert accepted(event(extra={"nested": [1, 2]}, trace_id="abc")).status == 200


# --- ts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()),
        ("2024-05-01T12:00:00.25Z", TS),
        ("2024-05-01t12:00:00.25z", TS),
        ("2024-05-01 14:00:00.25+02:00", TS),
        ("2024-05-01T07:00:00.250000000-05:00", TS),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, UTC).timestamp()),
    ],
)
def test_ts_accepts_rfc3339(text: str, expected: float) -> None:
    assert accepted(event(ts=text)).ts == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("value", [1714564800, 1714564800.5, 946684800])
def test_ts_accepts_epoch_seconds_int_or_float(value: float) -> None:
    r = accepted(event(ts=value))
    assert r.ts == float(value)
    assert type(r.ts) is float


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01",  # a date is not a date-time
        "2024-05-01T12:00:00",  # RFC 3339 requires an offset
        "2024-05-01T12:00Z",
        "20240501T120000Z",
        "2024-13-01T12:00:00Z",
        "2024-02-30T12:00:00Z",
        "1714564800",
        "\uff12\uff10\uff12\uff14-05-01T12:00:00Z",  # fullwidth (non-ASCII) digits
        "2024-05-01T12:00:00Z" + " " * 60,
        "",
    ],
)
def test_ts_rejects_text_that_is_not_rfc3339(text: str) -> None:
    r = rejected(event(ts=text))
    assert (r.reason, r.field) == ("bad_value", "ts")
    assert "RFC 3339" in r.message


@pytest.mark.parametrize(
    "value", [0, -1, 1e10, 4102444800, "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z"]
)
def test_ts_rejects_absurd_times(value: object) -> None:
    r = rejected(event(ts=value))
    assert (r.reason, r.field) == ("bad_value", "ts")
    assert "between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z" in r.message


def test_ts_in_milliseconds_gets_a_hint() -> None:
    r = rejected(event(ts=1714564800123))
    assert r.message == (
        "field 'ts': expected a time between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z, "
        "got integer 1714564800123 (milliseconds? expected seconds)"
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_ts_rejects_non_finite_numbers(value: float) -> None:
    r = event_from_obj(event(ts=value))  # JSON cannot carry these; a decoded dict can
    assert isinstance(r, Rejection)
    assert (r.reason, r.field) == ("bad_value", "ts")


@pytest.mark.parametrize(("value", "got"), [(True, "boolean true"), ([1], "array of 1 item"),
                                            ({"s": 1}, "object with 1 key")])  # fmt: skip
def test_ts_rejects_wrong_types(value: object, got: str) -> None:
    r = rejected(event(ts=value))
    assert (r.reason, r.field) == ("wrong_type", "ts")
    assert r.message == f"field 'ts': expected epoch seconds (number) or RFC 3339 string, got {got}"


# --- required fields ----------------------------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_each_required_field_absent_is_missing_field(name: str) -> None:
    r = rejected(event(**{name: ABSENT}))
    assert (r.reason, r.field) == ("missing_field", name)
    assert r.message.startswith(f"field '{name}': required, expected ")
    assert r.message.endswith("got nothing (the field is absent)")


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_each_required_field_null_is_missing_field(name: str) -> None:
    r = rejected(event(**{name: None}))
    assert (r.reason, r.field) == ("missing_field", name)
    assert r.message.endswith("got null")


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_each_required_field_of_wrong_type(name: str) -> None:
    r = rejected(event(**{name: [name]}))
    assert (r.reason, r.field) == ("wrong_type", name)
    assert r.message.endswith("got array of 1 item")


# --- client_ip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("::1", "::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
    ],
)
def test_client_ip_accepts_ipv4_and_ipv6_in_canonical_form(given: str, kept: str) -> None:
    assert accepted(event(client_ip=given)).client_ip == kept


@pytest.mark.parametrize(
    "value",
    ["", "10.0.0", "10.0.0.256", "010.0.0.1", " 10.0.0.1", "10.0.0.1\x00", "example.com",
     "1:2:3:4:5:6:7:8:9", "::g", "1" * 65 + ":", "10.0.0.1/24"],
)  # fmt: skip
def test_client_ip_rejects_what_is_not_an_address(value: str) -> None:
    r = rejected(event(client_ip=value))
    assert (r.reason, r.field) == ("bad_value", "client_ip")
    assert r.message.startswith("field 'client_ip': expected IPv4 or IPv6 address, got string ")


# --- method -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("GET", "GET"),
        ("get", "GET"),
        ("Post", "POST"),
        ("propfind", "PROPFIND"),
        ("M-SEARCH", "M-SEARCH"),
    ],
)
def test_method_is_upper_cased(given: str, kept: str) -> None:
    assert accepted(event(method=given)).method == kept


@pytest.mark.parametrize(
    "value", ["", "GE T", "GET\n", "GÉT", "X" * (MAX_STRING_CHARS["method"] + 1)]
)
def test_method_rejects_non_tokens_and_long_ones(value: str) -> None:
    r = rejected(event(method=value))
    assert (r.reason, r.field) == ("bad_value", "method")


# --- path ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/", "/"),
        ("/api/users/7?fields=phone", "/api/users/7"),
        ("/a?b#c", "/a"),
        ("/a#frag", "/a"),
        ("/über/straße", "/über/straße"),
    ],
)
def test_path_drops_query_string_and_fragment(given: str, kept: str) -> None:
    assert accepted(event(path=given)).path == kept


@pytest.mark.parametrize(
    "value",
    [
        "",
        "api/users",
        "http://example.com/",
        "/a\nb",
        "/a\x00",
        "/" + "a" * MAX_STRING_CHARS["path"],
    ],
)
def test_path_rejects_relative_absolute_control_and_oversize(value: str) -> None:
    r = rejected(event(path=value))
    assert (r.reason, r.field) == ("bad_value", "path")
    assert "starting with '/'" in r.message


def test_path_at_the_limit_is_accepted() -> None:
    path = "/" + "a" * (MAX_STRING_CHARS["path"] - 1)
    assert accepted(event(path=path)).path == path


# --- status -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [100, 200, 404, 599])
def test_status_accepts_100_to_599(value: int) -> None:
    assert accepted(event(status=value)).status == value


@pytest.mark.parametrize("value", [0, 99, 600, -200, 2**70])
def test_status_out_of_range_is_bad_value(value: int) -> None:
    r = event_from_obj(event(status=value))
    assert isinstance(r, Rejection)
    assert (r.reason, r.field) == ("bad_value", "status")


def test_status_message_names_field_expectation_and_value() -> None:
    r = rejected(event(status="200x"))
    assert r == Rejection(
        "wrong_type", "status", "field 'status': expected integer 100..599, got string '200x'"
    )


@pytest.mark.parametrize("value", ["200", 200.0, True, False])
def test_status_must_be_an_integer_not_text_float_or_bool(value: object) -> None:
    r = rejected(event(status=value))
    assert (r.reason, r.field) == ("wrong_type", "status")


def test_a_remembered_client_ip_gives_the_same_answer_again() -> None:
    base = {"ts": 1714564800, "method": "GET", "path": "/", "status": 200}
    for _ in range(2):  # the second time from the validated-address cache
        first = event_from_obj({**base, "client_ip": "2001:DB8::0:1"})
        assert isinstance(first, Request)
        assert first.client_ip == "2001:db8::1"
        mapped = event_from_obj({**base, "client_ip": "::ffff:10.0.0.1"})
        assert isinstance(mapped, Request)
        assert mapped.client_ip == "10.0.0.1"
        bad = event_from_obj({**base, "client_ip": "10.0.0.256"})
        assert isinstance(bad, Rejection)
        assert bad.field == "client_ip"


def test_fields_are_found_whatever_the_key_order_from_message_to_message() -> None:
    # the validator remembers the last key layout: alternating layouts, missing and extra
    # keys must each be read right, not with the previous message's positions
    full = {
        "ts": TS,
        "client_ip": "10.0.0.1",
        "method": "GET",
        "path": "/p",
        "status": 200,
        "account": "a",
        "route": "/p",
        "bytes": 5,
        "user_agent": "ua",
        "session": "s",
        "referer": "/r",
    }
    shuffled = dict(reversed(list(full.items())))
    sparse = {"extra": 1, "status": 404, "path": "/q", "ts": TS, "client_ip": "10.0.0.2",
              "method": "POST"}  # fmt: skip
    expected_full = Request(TS, "10.0.0.1", "GET", "/p", 200, "a", "/p", 5, "ua", "s", "/r")
    expected_sparse = Request(TS, "10.0.0.2", "POST", "/q", 404)
    for _ in range(2):
        assert parse_event(orjson.dumps(full)) == expected_full
        assert parse_event(orjson.dumps(sparse)) == expected_sparse
        assert event_from_obj(shuffled) == expected_full
        assert event_from_obj({**sparse, "status": "x"}).field == "status"  # type: ignore[union-attr]
