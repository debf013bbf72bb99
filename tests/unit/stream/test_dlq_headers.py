"""DLQ records: original bytes untouched, reason headers, and reading them back."""

from __future__ import annotations

import pytest

from stream.dlq import (
    HEADER_ERROR,
    HEADER_FIELD,
    HEADER_REASON,
    HEADER_REJECTED_AT,
    HEADER_SOURCE,
    HEADER_TRUNCATED_FROM,
    MAX_DLQ_VALUE_BYTES,
    DlqEntry,
    describe_dlq_message,
    dlq_record,
)
from stream.errors import DlqFormatError
from stream.events import Rejection, parse_event

STATUS = Rejection(
    "wrong_type", "status", "field 'status': expected integer 100..599, got string '200x'"
)


def test_record_keeps_key_and_original_value_and_says_why() -> None:
    raw = b'{"status": "200x"}'
    record = dlq_record(
        STATUS,
        raw,
        topic="requests",
        partition=3,
        offset=99,
        key=b"acct-1",
        rejected_at=1714564800.5,
    )
    assert record.key == b"acct-1"
    assert record.value is raw
    assert record.headers == [
        (HEADER_REASON, b"wrong_type"),
        (HEADER_FIELD, b"status"),
        (HEADER_ERROR, b"field 'status': expected integer 100..599, got string '200x'"),
        (HEADER_SOURCE, b"requests/3/99"),
        (HEADER_REJECTED_AT, b"2024-05-01T12:00:00.500Z"),
    ]


def test_headers_round_trip_through_describe() -> None:
    raw = b"\xff\xfe not utf-8"
    rejection = parse_event(raw)
    assert isinstance(rejection, Rejection)
    record = dlq_record(
        rejection, raw, topic="requests.v2", partition=0, offset=0, key=None, rejected_at=0.0
    )
    entry = describe_dlq_message(record.headers, record.value)
    assert entry == DlqEntry(
        reason="not_utf8",
        field=None,
        error=rejection.message,
        topic="requests.v2",
        partition=0,
        offset=0,
        rejected_at="1970-01-01T00:00:00.000Z",
        value=raw,
        truncated_from=None,
    )
    assert entry.source == "requests.v2/0/0"


def test_describe_accepts_a_mapping_and_str_values() -> None:
    headers: dict[str, str | bytes | None] = {
        HEADER_REASON: "missing_field",
        HEADER_FIELD: "ts",
        HEADER_ERROR: "field 'ts': required",
        HEADER_SOURCE: "a/b/c/7/12",  # topic names cannot hold '/', but parse from the right anyway
        HEADER_REJECTED_AT: "2024-05-01T12:00:00.000Z",
        "other": b"ignored",
    }
    entry = describe_dlq_message(headers, None)
    assert (entry.reason, entry.field, entry.topic, entry.partition, entry.offset) == (
        "missing_field",
        "ts",
        "a/b/c",
        7,
        12,
    )


def test_too_big_value_is_truncated_and_says_so() -> None:
    raw = b"x" * (MAX_DLQ_VALUE_BYTES + 10)
    rejection = parse_event(raw)
    assert isinstance(rejection, Rejection)
    record = dlq_record(rejection, raw, topic="requests", partition=1, offset=5, key=None)
    assert record.value == raw[:MAX_DLQ_VALUE_BYTES]
    assert (HEADER_TRUNCATED_FROM, str(len(raw)).encode()) in record.headers
    entry = describe_dlq_message(record.headers, record.value)
    assert entry.truncated_from == len(raw)
    assert entry.reason == "too_large"
    assert f"truncated from {len(raw)} bytes" in str(entry)


def test_value_at_the_limit_is_not_truncated() -> None:
    raw = b"x" * 100
    record = dlq_record(
        STATUS, raw, topic="t", partition=0, offset=0, key=None, max_value_bytes=100
    )
    assert record.value == raw
    assert all(name != HEADER_TRUNCATED_FROM for name, _ in record.headers)


def test_null_value_stays_null() -> None:
    rejection = parse_event(None)
    assert isinstance(rejection, Rejection)
    record = dlq_record(rejection, None, topic="t", partition=0, offset=1, key=b"k")
    assert record.value is None
    assert describe_dlq_message(record.headers, record.value).reason == "not_json"


def test_str_of_an_entry_is_readable() -> None:
    record = dlq_record(
        STATUS,
        b'{"status":"200x"}',
        topic="requests",
        partition=3,
        offset=99,
        key=None,
        rejected_at=0.0,
    )
    text = str(describe_dlq_message(record.headers, record.value))
    assert text == (
        "1970-01-01T00:00:00.000Z requests/3/99 wrong_type field=status: "
        "field 'status': expected integer 100..599, got string '200x'\n"
        '  value (17 bytes): b\'{"status":"200x"}\''
    )


def test_rejected_at_defaults_to_now() -> None:
    record = dlq_record(STATUS, b"", topic="t", partition=0, offset=0, key=None)
    assert describe_dlq_message(record.headers, b"").rejected_at.startswith("20")


@pytest.mark.parametrize("headers", [None, [], [("x", b"y")], [(HEADER_REASON, b"not_json")]])
def test_describe_refuses_messages_without_our_headers(
    headers: list[tuple[str, bytes]] | None,
) -> None:
    with pytest.raises(DlqFormatError, match="not a scrapewatch DLQ message: expected headers"):
        describe_dlq_message(headers, b"v")


def test_describe_refuses_a_bad_source_header() -> None:
    record = dlq_record(STATUS, b"v", topic="t", partition=0, offset=0, key=None)
    headers = [(n, b"t/x/y" if n == HEADER_SOURCE else v) for n, v in record.headers]
    with pytest.raises(DlqFormatError, match="expected 'topic/partition/offset', got 't/x/y'"):
        describe_dlq_message(headers, b"v")
