"""The codec: JSON bytes in and out, JSON lines."""

from __future__ import annotations

import io
import json

import pytest

from stream.codec import (
    JSONDecodeError,
    dumps,
    dumps_alert,
    iter_lines,
    loads,
    read_json_lines,
    write_json_lines,
)
from stream.errors import CodecError


def test_dumps_loads_round_trip() -> None:
    obj = {"ts": 1714564800.123456, "ip": "::1", "n": 2**63, "nested": [None, True, "é"]}
    raw = dumps(obj)
    assert isinstance(raw, bytes)
    assert loads(raw) == obj
    assert json.loads(raw) == obj


def test_decode_error_is_a_value_error() -> None:
    with pytest.raises(JSONDecodeError):
        loads(b"{")
    assert issubclass(JSONDecodeError, ValueError)


def test_alert_bytes_do_not_depend_on_key_order() -> None:
    assert dumps_alert({"b": 1, "a": {"d": 1, "c": 2}}) == b'{"a":{"c":2,"d":1},"b":1}'


def test_json_lines_write_then_read() -> None:
    buf = io.BytesIO()
    assert write_json_lines(buf, [{"a": 1}, [2], "x"]) == 3
    assert buf.getvalue() == b'{"a":1}\n[2]\n"x"\n'
    buf.seek(0)
    assert list(read_json_lines(buf)) == [(1, {"a": 1}), (2, [2]), (3, "x")]


def test_iter_lines_skips_blank_lines_and_keeps_numbers() -> None:
    lines = [b"a\r\n", b"   \n", b"\n", b"b"]
    assert list(iter_lines(lines)) == [(1, b"a"), (4, b"b")]


def test_bad_json_line_names_its_number() -> None:
    with pytest.raises(CodecError, match="line 2: expected one JSON value, got "):
        list(read_json_lines([b"{}\n", b"{oops\n"]))
