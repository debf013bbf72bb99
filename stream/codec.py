"""JSON for the whole service: the only module that imports orjson.

Kafka values, alerts and JSON-lines files all go through here, so the JSON library, its
options and its error type are chosen once.

>>> dumps({"a": 1, "b": [True, None]})
b'{"a":1,"b":[true,null]}'
>>> loads(b'{"a": 1}')
{'a': 1}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

import orjson

from stream.errors import CodecError

__all__ = [
    "JSONDecodeError",
    "dumps",
    "dumps_alert",
    "iter_lines",
    "loads",
    "read_json_lines",
    "write_json_lines",
]

#: Raised by :func:`loads`; a subclass of :class:`ValueError` (and of ``json.JSONDecodeError``).
JSONDecodeError = orjson.JSONDecodeError

_loads = orjson.loads
_dumps = orjson.dumps
_ALERT_OPTIONS = orjson.OPT_SORT_KEYS


#: Decode one JSON document; raises :data:`JSONDecodeError` on anything else. (orjson's
#: own function, not a wrapper: it is called once per event on the hot path.)
loads: Callable[[bytes | bytearray | memoryview | str], Any] = orjson.loads


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON (dataclasses and datetimes are supported)."""
    return _dumps(obj)


def dumps_alert(alert: Mapping[str, Any]) -> bytes:
    """Encode an alert dict with sorted keys, so equal alerts give equal bytes.

    >>> dumps_alert({"b": 1, "a": 2})
    b'{"a":2,"b":1}'
    """
    return _dumps(alert, option=_ALERT_OPTIONS)


def iter_lines(fp: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` for the non-blank lines of a binary file, 1-based.

    The line keeps its bytes as they were (minus the line ending), so a caller can hand it
    to :func:`stream.events.parse_event` and get a precise rejection for a bad line.

    >>> list(iter_lines([b'{"a":1}\\n', b"\\n", b'{"a":2}\\r\\n']))
    [(1, b'{"a":1}'), (3, b'{"a":2}')]
    """
    for number, line in enumerate(fp, start=1):
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield number, stripped


def read_json_lines(fp: Iterable[bytes]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each JSON line; a bad line raises :class:`CodecError`.

    >>> list(read_json_lines([b'{"a":1}\\n', b"[2]\\n"]))
    [(1, {'a': 1}), (2, [2])]
    """
    for number, line in iter_lines(fp):
        try:
            yield number, _loads(line)
        except JSONDecodeError as exc:
            raise CodecError(f"line {number}: expected one JSON value, got {exc}") from exc


def write_json_lines(fp: IO[bytes], objs: Iterable[Any]) -> int:
    """Write each object as one JSON line; return how many lines were written."""
    count = 0
    newline = orjson.OPT_APPEND_NEWLINE
    for obj in objs:
        fp.write(_dumps(obj, option=newline))
        count += 1
    return count
