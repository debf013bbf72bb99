"""The C decode stage agrees with the Python reference, message for message.

``stream.decoder.forward_batch`` runs either the C stage (``stream.fastdecode``) or the
reference (``parse_event`` per message, then ``encode_rows``). A user must not be able to
tell which ran: the same ``requests.batches`` rows (values and JSON types), the same DLQ
records, counts and commit positions. Each test runs both on the same messages and
compares everything; ``native`` counts show the C stage really did the work where it
should (a stage that declined everything would agree trivially).
"""

from __future__ import annotations

import random
import shutil
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream import events
from stream.batches import decode_batch
from stream.codec import dumps
from stream.decoder import ForwardBatch, event_parser, forward_batch, native_available
from stream.events import parse_event

from .eventkit import event

try:
    from stream import fastdecode
except ImportError:  # not built (no compiler), or built before its .pyx was edited
    fastdecode = None  # type: ignore[assignment]


class Msg:
    """The six methods the decoder reads of a confluent-kafka message."""

    def __init__(
        self, value: Any, offset: int, partition: int = 0, error: Any = None, key: Any = None
    ) -> None:
        self._value, self._offset, self._partition = value, offset, partition
        self._error, self._key = error, key

    def value(self) -> Any:
        return self._value

    def key(self) -> Any:
        return self._key

    def topic(self) -> str:
        return "requests"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> Any:
        return self._error


def _view(batch: ForwardBatch) -> dict[str, Any]:
    """Everything a user sees of a forwarded batch, with JSON types kept (1.0 is not 1).

    Messages of different partitions go to different partitions of ``requests.batches``,
    so only their order within a partition counts.
    """
    by_partition: dict[int, list[bytes]] = {}
    for p, v in batch.messages:
        by_partition.setdefault(p, []).append(orjson.dumps(decode_batch(v)))
    return {
        "rows": dict(sorted(by_partition.items())),
        "dlq": [(r.key, r.value, r.headers) for r in batch.dlq],
        "results": batch.results,
        "reasons": batch.reasons,
        "positions": batch.positions,
        "kafka_errors": batch.kafka_errors,
    }


def both(msgs: list[Msg], max_events: int = 2000) -> tuple[ForwardBatch, ForwardBatch]:
    """Forward ``msgs`` with the C stage and with the reference; assert they agree, and
    that the C parser of single events (what replay uses) answers as ``parse_event``."""
    fast = forward_batch(msgs, max_events, rejected_at=0.0, native=True)
    slow = forward_batch(msgs, max_events, rejected_at=0.0, native=False)
    assert _view(fast) == _view(slow)
    assert slow.native == 0
    parser = fastdecode.RequestParser(parse_event)
    for msg in msgs:
        if msg.error() is None:
            value = msg.value()
            assert repr(parser(value)) == repr(parse_event(value)), value
    return fast, slow


def one(value: Any) -> ForwardBatch:
    return both([Msg(value, 7)])[0]


@pytest.fixture(autouse=True)
def _native_built() -> None:
    if fastdecode is None:
        # the documented fallback where nothing could be compiled: the reference alone
        assert shutil.which("cc") is None and shutil.which("gcc") is None, (
            "stream.fastdecode is not built although a C compiler is here: run `make build`"
        )
        assert not native_available()
        pytest.skip("no C compiler: the C decode stage is not built (the reference runs)")


def test_limits_agree_with_the_event_contract():
    limits = fastdecode.LIMITS
    assert limits["message"] == events.MAX_MESSAGE_BYTES
    for name in ("path", "account", "route", "user_agent", "session", "referer", "client_ip"):
        assert limits[name] == events.MAX_STRING_CHARS[name], name
    assert (limits["ts_min"], limits["ts_max"]) == (events.TS_MIN, events.TS_MAX)
    assert fastdecode.BATCH_FORMAT_VERSION == 2


def test_simulated_traffic_is_validated_in_c_and_encoded_like_the_reference():
    from detectors.simulator import SimConfig, Simulation

    sim = Simulation(SimConfig(seed=3, hours=0.5, benign_accounts=200, anonymous_visitors=100))
    values = [dumps(e) for e in sim.events()]
    msgs = [Msg(v, i, partition=i % 3) for i, v in enumerate(values)]
    fast, _ = both(msgs, max_events=500)
    assert fast.native == len(values) > 1000  # the C stage did it all
    assert fast.results == {"valid": len(values), "rejected": 0, "kafka_error": 0}


ORDINARY = [
    event(),
    event(ts=1714564800),  # an integer time: a float row, as the reference writes it
    event(ts=946684800),  # the first accepted second (integers compare exactly)
    event(ts=1.7145648e9),
    event(ts=1714564800.123456789),
    event(method="post", path="/api/cart?item=3#top"),
    event(path="/a#b?c"),
    event(account="alice", route="/api/users/{id}/profile", bytes=0, user_agent="curl/8"),
    event(account="", route="", user_agent="", session="", referer=""),
    event(account=None, route=None, bytes=None, user_agent=None, session=None, referer=None),
    event(bytes=2**63 - 1),
    event(client_ip="2001:DB8:0:0:0:0:0:1"),  # canonical form: 2001:db8::1
    event(client_ip="fe80::1"),
    event(status=100),
    event(status=599),
    event(extra="ignored", n=1.5, flag=True, nothing=None, small=-12e-3, e=1e299),
    event(account="a" * 256, route="/" * 512, user_agent="u" * 2048),
    event(path="/" + "p" * 8191),
]


@pytest.mark.parametrize("obj", ORDINARY)
def test_ordinary_events_are_validated_in_c(obj):
    fast = one(dumps(obj))
    assert fast.native == 1


def test_an_unknown_field_may_hold_an_integer_beyond_64_bits():
    value = dumps(event()).replace(b"}", b',"big":' + b"9" * 300 + b"}")
    assert one(value).native == 1


def test_whitespace_between_tokens_is_ordinary():
    fast = one(b' {\n "ts" : 1714564800.5 ,\t"client_ip":"10.0.0.1", "method":"GET",'
               b'"path":"/","status":200 }\r\n')  # fmt: skip
    assert fast.native == 1


def doc(
    fields: bytes = b"",
    *,
    ts: bytes = b"1714564800.5",
    path: bytes = b'"/"',
    tail: bytes = b"",
    after: bytes = b"",
) -> bytes:
    """An event written by hand, for JSON that no encoder writes."""
    head = fields + b", " if fields else b'"ts": ' + ts + b", "
    return (
        b"{" + head + b'"client_ip": "10.0.0.1", "method": "GET", "path": ' + path
        + b', "status": 200' + tail + b"}" + after
    )  # fmt: skip


# every one of these goes to the reference, which accepts or rejects it as it always has
DECLINED = [
    b"",
    b"not json",
    b"{",
    b"[]",
    b"{}",
    b"null",
    b'{"ts": 1714564800}',
    b'\xff\xfe{"ts": 1}',
    dumps(event(ts="2024-05-01T12:00:00Z")),
    dumps(event(ts="2024-05-01T12:00:60+01:00")),
    dumps(event(ts=1714564800000)),  # milliseconds
    dumps(event(ts=946684799.999)),
    dumps(event(ts=4102444799.9999999)),  # rounds to the first refused time
    dumps(event(ts=True)),
    dumps(event(ts=None)),
    dumps(event(client_ip="::ffff:10.0.0.1")),  # written dotted by the reference
    dumps(event(client_ip="::1")),
    dumps(event(client_ip="fe80::1%eth0")),
    dumps(event(client_ip="10.0.0.256")),
    dumps(event(client_ip="010.0.0.1")),
    dumps(event(client_ip="")),
    dumps(event(client_ip="1" * 70)),
    dumps(event(method="Get")),
    dumps(event(method="PROPFIND")),
    dumps(event(method="G E T")),
    dumps(event(path="api")),
    dumps(event(path="")),
    dumps(event(path="/" + "p" * 8192)),
    dumps(event(path="/caf\u00e9")),
    dumps(event(path="/tab\there")),
    dumps(event(path="/del\x7f")),
    dumps(event(path='/quote"d')),
    dumps(event(status=99)),
    dumps(event(status=600)),
    dumps(event(status=200.0)),
    dumps(event(status="200")),
    dumps(event(account="a" * 257)),
    dumps(event(account=7)),
    dumps(event(account="j\u00fcrgen")),
    dumps(event(user_agent="u" * 2049)),
    dumps(event(referer="r" * 8193)),
    dumps(event(bytes=-1)),
    dumps(event(bytes=2**63)),
    dumps(event(bytes=1.5)),
    dumps(event(bytes="10")),
    dumps(event(extra={"nested": [1, 2]})),
    dumps(event(extra=[1])),
    dumps(event(ts=1714564800.5)).replace(b"}", b',"x":1e400}'),  # orjson: infinity
    dumps(event(ts=1714564800.5)).replace(b"}", b',"x":-2e308}'),
    dumps(event(ts=1714564800.5)).replace(b"}", b',"x":1' + b"0" * 400 + b"}"),
    doc(b'"ts": 1714564800.5, "ts": 1714564801.5'),  # a repeated field
    doc(path=b'"\\/a"'),  # an escape
    doc(b'"t\\u0073": 1714564800.5'),
    doc(tail=b","),
    doc(after=b" x"),
    doc(ts=b"01714564800"),
    doc(ts=b"1714564800."),
    doc(ts=b"NaN"),
    doc(tail=b', "x": tru'),
    dumps(event(user_agent="x" * 70_000)),  # too large
]


@pytest.mark.parametrize("value", DECLINED)
def test_unusual_messages_go_to_the_reference_and_get_its_verdict(value):
    fast = one(value)
    assert fast.native == 0


def test_no_value_and_kafka_errors_are_handled_like_the_reference():
    class Error:
        def __init__(self, code: int) -> None:
            self._code = code

        def code(self) -> int:
            return self._code

        def __str__(self) -> str:
            return f"error {self._code}"

    msgs = [
        Msg(dumps(event()), 1),
        Msg(None, 2),
        Msg(None, 3, error=Error(-191)),  # partition EOF: no data, not an error
        Msg(None, 4, error=Error(-185)),
        Msg(dumps(event()), 5, partition=2, key=b"k"),
    ]
    fast, _ = both(msgs)
    assert fast.results == {"valid": 2, "rejected": 1, "kafka_error": 1}
    assert fast.positions == {0: 3, 2: 6}


def test_batch_messages_split_at_max_events_in_offset_order():
    msgs = [Msg(dumps(event(ts=1714564800.0 + i)), 100 + i, partition=i % 2) for i in range(11)]
    msgs.insert(4, Msg(b"bad", 99, partition=0))
    fast, _ = both(msgs, max_events=2)
    assert [p for p, _ in fast.messages] == [0, 0, 0, 1, 1, 1]
    _, offsets, _ = decode_batch(fast.messages[0][1])
    assert offsets == [100, 102]


def test_an_event_the_reference_accepts_keeps_its_place_among_the_others():
    msgs = [
        Msg(dumps(event(ts=1714564800.5)), 1),
        Msg(dumps(event(ts="2024-05-01T12:00:01Z")), 2),  # declined, then accepted
        Msg(dumps(event(ts=1714564802.5)), 3),
    ]
    fast, _ = both(msgs)
    assert (fast.native, fast.results["valid"]) == (2, 3)
    _, offsets, rows = decode_batch(fast.messages[0][1])
    assert offsets == [1, 2, 3]
    assert [row[0] for row in rows] == [1714564800.5, 1714564801.0, 1714564802.5]


def test_max_events_must_be_positive():
    with pytest.raises(ValueError, match="max_events must be >= 1"):
        forward_batch([], 0, native=True)


_FIELD_VALUES = st.sampled_from(
    [
        1714564800,
        1714564800.25,
        946684800.5,
        4102444798.5,
        -1,
        0,
        99,
        200,
        404,
        599,
        600,
        2**63 - 1,
        2**63,
        1.5,
        True,
        False,
        None,
        "",
        "GET",
        "get",
        "Post",
        "10.0.0.1",
        "10.0.0.01",
        "2001:db8::1",
        "::ffff:1.2.3.4",
        "/",
        "/api/users/12/profile?x=1",
        "/a#b",
        "x",
        "caf\u00e9",
        "a\\b",
        "2024-05-01T12:00:00Z",
    ]
)
_FIELDS = st.sampled_from(events.REQUIRED_FIELDS + events.OPTIONAL_FIELDS) | st.text(max_size=4)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {name: _FIELD_VALUES for name in events.REQUIRED_FIELDS},
            optional={name: _FIELD_VALUES for name in events.OPTIONAL_FIELDS},
        )
        | st.dictionaries(_FIELDS, _FIELD_VALUES, max_size=12),
        max_size=8,
    )
)
def test_random_events_get_the_same_verdict_and_row(objs):
    both([Msg(dumps(obj), i, partition=i % 2) for i, obj in enumerate(objs)], max_events=3)


def test_corrupted_events_get_the_same_verdict_and_row():
    rng = random.Random(11)
    base = [dumps(obj) for obj in ORDINARY]
    alphabet = b' {}[]":,.-+eE0123456789\\/?#tfnulr\x00\x7f\xc3\xa9abc'
    msgs = []
    for i in range(3000):
        value = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(value))
            action = rng.random()
            if action < 0.4:
                value[at] = rng.choice(alphabet)
            elif action < 0.7:
                del value[at]
            else:
                value.insert(at, rng.choice(alphabet))
        msgs.append(Msg(bytes(value), i, partition=i % 4))
    fast, _ = both(msgs, max_events=100)
    assert 0 < fast.native < fast.results["valid"] + fast.results["rejected"]


def test_replay_parses_with_the_c_parser_where_it_is_built():
    assert isinstance(event_parser(), fastdecode.RequestParser) == native_available()
