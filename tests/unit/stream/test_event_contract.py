"""The request-event contract: every field, every rejection reason, the limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from detectors.events import Request
from stream.codec import dumps
from stream.events import (
    MAX_MESSAGE_BYTES,
    MAX_STRING_CHARS,
    OPTIONAL_FIELDS,
    REASONS,
    REQUIRED_FIELDS,
    Rejection,
    encode_event,
    event_from_obj,
    event_key,
    parse_event,
)

TS = 1714564800.25  # 2024-05-01T12:00:00.25Z


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": TS,
        "client_ip": "203.0.113.7",
        "method": "GET",
        "path": "/api/users/42/profile",
        "status": 200,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _ABSENT}


_ABSENT = object()


def rejected(obj: Any) -> Rejection:
    result = parse_event(dumps(obj))
    assert isinstance(result, Rejection), result
    assert result.reason in REASONS
    return result


def accepted(obj: Any) -> Request:
    result = parse_event(dumps(obj))
    assert isinstance(result, Request), result
    return result


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
    r = rejected(event(**{name: _ABSENT}))
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


# --- optional fields ----------------------------------------------------------------------

STRING_OPTIONALS = [name for name in OPTIONAL_FIELDS if name != "bytes"]


@pytest.mark.parametrize("name", OPTIONAL_FIELDS)
def test_optional_fields_may_be_absent_or_null(name: str) -> None:
    assert getattr(accepted(event(**{name: None})), name) is None


@pytest.mark.parametrize("name", STRING_OPTIONALS)
def test_optional_empty_string_becomes_null(name: str) -> None:
    assert getattr(accepted(event(**{name: ""})), name) is None


def test_empty_account_makes_the_entity_the_ip() -> None:
    r = accepted(event(account=""))
    assert (r.entity_type, r.entity) == ("ip", "203.0.113.7")


@pytest.mark.parametrize("name", STRING_OPTIONALS)
def test_optional_strings_are_bounded(name: str) -> None:
    limit = MAX_STRING_CHARS[name]
    assert getattr(accepted(event(**{name: "x" * limit})), name) == "x" * limit
    r = rejected(event(**{name: "x" * (limit + 1)}))
    assert (r.reason, r.field) == ("bad_value", name)
    assert f"string of at most {limit} characters or null" in r.message
    assert f"({limit + 1} characters)" in r.message


@pytest.mark.parametrize("name", STRING_OPTIONALS)
@pytest.mark.parametrize("value", [1, True, ["a"], {"a": 1}])
def test_optional_strings_reject_other_types(name: str, value: object) -> None:
    r = rejected(event(**{name: value}))
    assert (r.reason, r.field) == ("wrong_type", name)


@pytest.mark.parametrize("value", [0, 1, 2**63 - 1])
def test_bytes_accepts_non_negative_integers(value: int) -> None:
    assert accepted(event(bytes=value)).bytes == value


@pytest.mark.parametrize(("value", "reason"), [(-1, "bad_value"), (2**63, "bad_value"),
                                               (1.5, "wrong_type"), ("12", "wrong_type"),
                                               (True, "wrong_type")])  # fmt: skip
def test_bytes_rejects_negative_huge_and_non_integers(value: object, reason: str) -> None:
    r = rejected(event(bytes=value))
    assert (r.reason, r.field) == (reason, "bytes")


# --- whole-message rejections ------------------------------------------------------------


def test_not_utf8() -> None:
    r = parse_event(b'{"path": "/\xff"}')
    assert r == Rejection(
        "not_utf8",
        None,
        "message: expected UTF-8 text, got byte 0xff at offset 11 (invalid start byte)",
    )


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"a":1} x', b"NaN", b"\xef\xbb\xbf{}",
                                 b'{"a": "\\ud800"}'])  # fmt: skip
def test_not_json(raw: bytes) -> None:
    r = parse_event(raw)
    assert isinstance(r, Rejection)
    assert (r.reason, r.field) == ("not_json", None)
    assert r.message.startswith("message: expected one JSON document, got invalid JSON (")


def test_null_value_is_not_json() -> None:
    r = parse_event(None)
    assert isinstance(r, Rejection)
    assert r.reason == "not_json"


@pytest.mark.parametrize(("raw", "got"), [(b"[]", "array of 0 items"), (b"1", "integer 1"),
                                          (b'"x"', "string 'x'"), (b"null", "null"),
                                          (b"true", "boolean true")])  # fmt: skip
def test_not_object(raw: bytes, got: str) -> None:
    assert parse_event(raw) == Rejection(
        "not_object", None, f"message: expected a JSON object, got {got}"
    )


def test_too_large_is_checked_before_parsing() -> None:
    raw = b"x" * (MAX_MESSAGE_BYTES + 1)  # not JSON either: size wins
    assert parse_event(raw) == Rejection(
        "too_large",
        None,
        f"message: expected at most {MAX_MESSAGE_BYTES} bytes, got {MAX_MESSAGE_BYTES + 1} bytes",
    )


def test_message_at_the_size_limit_is_parsed() -> None:
    obj = event(padding="")
    raw = dumps(obj)
    obj["padding"] = "p" * (MAX_MESSAGE_BYTES - len(raw))
    raw = dumps(obj)
    assert len(raw) == MAX_MESSAGE_BYTES
    assert isinstance(parse_event(raw), Request)


def test_bytearray_and_memoryview_are_accepted() -> None:
    raw = dumps(event())
    assert parse_event(bytearray(raw)) == parse_event(memoryview(raw)) == parse_event(raw)


def test_every_reason_is_reachable() -> None:
    seen = {
        parse_event(b"\xff").reason,  # type: ignore[union-attr]
        parse_event(b"{").reason,  # type: ignore[union-attr]
        parse_event(b" " * (MAX_MESSAGE_BYTES + 1)).reason,  # type: ignore[union-attr]
        rejected([]).reason,
        rejected(event(ts=_ABSENT)).reason,
        rejected(event(status="1")).reason,
        rejected(event(status=1)).reason,
    }
    assert seen == set(REASONS)


# --- encoding ---------------------------------------------------------------------------


def test_encode_event_round_trips() -> None:
    r = Request(TS, "2001:db8::1", "POST", "/login", 401, "a", "/login", 10, "ua", "s", "ref")
    assert parse_event(encode_event(r)) == r


def test_event_key_is_account_else_ip() -> None:
    assert event_key(Request(TS, "10.0.0.1", "GET", "/", 200)) == b"10.0.0.1"
    assert event_key(Request(TS, "10.0.0.1", "GET", "/", 200, account="acct")) == b"acct"
