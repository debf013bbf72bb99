"""The request-event contract, continued: optional fields, whole-message rejections, encoding."""

from __future__ import annotations

import pytest

from detectors.events import Request
from stream.codec import dumps
from stream.events import (
    MAX_MESSAGE_BYTES,
    MAX_STRING_CHARS,
    OPTIONAL_FIELDS,
    REASONS,
    Rejection,
    encode_event,
    event_key,
    parse_event,
)
from tests.unit.stream.eventkit import ABSENT, TS, accepted, event, rejected

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
        rejected(event(ts=ABSENT)).reason,
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
