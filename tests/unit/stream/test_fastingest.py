"""The C ingest leaves a stage exactly as the Python path does, message for message.

``AccountRuntime.on_message`` hands a ``requests.batches`` message to the C ingest
(``stream.fastingest``) when it can, else decodes it with orjson and folds the rows in
Python. A user must not be able to tell which ran: the same alerts, endpoint partials,
campaign summaries, entity states written, expiries and late counts. Each test runs both
on the same messages and compares everything a stage hands back.
"""

from __future__ import annotations

import string
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectionConfig
from detectors.events import Request
from detectors.features import summary_to_dict
from detectors.partitioning import partition_for
from detectors.routes import template as reference_template
from detectors.simulator import SimConfig, Simulation
from detectors.stages import AccountStage, StageOutput
from stream.batches import decode_batch, encode_rows
from stream.codec import dumps, dumps_alert
from stream.decoder import forward_batch
from stream.events import event_from_obj
from stream.runtime import _FAST, AccountRuntime
from tests.unit.stream.test_batches import _Store
from tests.unit.stream.test_fastdecode import Msg


def _view(out: StageOutput) -> dict[str, Any]:
    return {
        "alerts": [dumps_alert(a) for a in out.alerts],
        "partials": [p.to_dict() for p in out.partials],
        "summaries": [summary_to_dict(s) for s in out.summaries],
        "updated": [(key, repr(state.to_record())) for key, state in out.updated],
        "expired": out.expired,
        "late": out.late_events,
        "closed": out.windows_closed,
    }


def _messages(events: list[dict[str, Any]], partitions: int, per_message: int) -> list[Any]:
    """``(partition, value)`` of the batch messages the bridge writes for ``events``."""
    msgs = []
    for i, e in enumerate(events):
        key = e.get("account") or e["client_ip"]
        msgs.append(Msg(dumps(e), i, partition=partition_for(key, partitions)))
    out = []
    for i in range(0, len(msgs), 5000):
        out += forward_batch(msgs[i : i + 5000], per_message, rejected_at=0.0).messages
    return out


def _fold_both(messages: list[Any], partitions: int, config: DetectionConfig) -> int:
    """Every message into a C-fed and a Python-fed stage of its partition; compare after
    each message and at the end. Returns how many events went through the C ingest."""
    assert _FAST is not None
    fast = {p: AccountStage(config, partition=p) for p in range(partitions)}
    slow = {p: AccountStage(config, partition=p) for p in range(partitions)}
    ingest = {p: _FAST.Ingest(fast[p]) for p in range(partitions)}
    folded = 0
    for p, value in messages:
        _, offsets, rows = decode_batch(value)
        done = ingest[p].ingest(value, -1)
        assert done is not None
        assert done == (len(rows), offsets[0], offsets[-1], max(r[0] for r in rows))
        folded += done[0]
        slow[p].ingest_all(rows)
        assert _view(fast[p].advance()) == _view(slow[p].advance())
    for p in range(partitions):
        assert _view(fast[p].flush()) == _view(slow[p].flush())
        assert fast[p].watermark == slow[p].watermark
    return folded


needs_c = pytest.mark.skipif(
    _FAST is None,
    reason="the C ingest runs only with the compiled detectors (make test); without them the "
    "runtime's Python path is what runs, tested by test_the_runtime_gives_the_same_outboxes",
)


@pytest.fixture(autouse=True)
def _built_unless_pure() -> None:
    from detectors.compiled import compiled_status, pure_requested

    if _FAST is None:
        # where the C ingest cannot run, the runtime decodes in Python (tested below);
        # it must not be missing where everything else is compiled
        assert pure_requested() or not compiled_status()["detectors.stages"]


@needs_c
def test_simulated_traffic_leaves_the_stages_as_the_python_path_does():
    config = DetectionConfig(window=60.0, lateness=10.0)
    sim = Simulation(SimConfig(seed=5, hours=2.5, benign_accounts=400, anonymous_visitors=200))
    events = list(sim.events())
    folded = _fold_both(_messages(events, 3, 700), 3, config)
    assert folded == len(events) > 50_000


@needs_c
def test_rows_written_by_the_python_encoder_fold_the_same():
    reqs = [
        Request(1714564800.0 + i / 7, f"10.0.{i % 3}.1", "GET", f"/api/users/{i}/profile", 200,
                account=f"acct-{i % 5}", user_agent="ua", referer="r", session="s", bytes=i)
        for i in range(500)
    ] + [
        Request(1714564900.125, "2001:db8::1", "PROPFIND", "/dav/x", 207, route=None),
        Request(1714564901.5, "10.0.0.9", "GET", "/u/7/x", 404, account="a", route="/u/{id}/x"),
    ]  # fmt: skip
    value = encode_rows(0, list(range(len(reqs))), reqs)
    assert _fold_both([(0, value)], 1, DetectionConfig()) == len(reqs)


@needs_c
def test_paths_routes_and_methods_of_every_kind_fold_the_same():
    uuid = "6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab"
    paths = [
        "/",
        "//",
        "/api/users/12/profile",
        f"/s/{uuid}/deadbeefcafebabe/v2",
        "/static/00112233445566778899aabbccddeeff.webp",
        "/static/0011223344556677.8899aabbccddeeff",  # hex before the first dot only
        "/f/0123456789abcde.png",  # 15 hex characters: not an id
        "/g/" + "-" * 8 + "x" * 28,
        "/a/" + "/".join(str(i) for i in range(80)),  # more ids than the C templater takes
        "/1" * 4000,  # 4,000 ids: its template is longer than the C templater writes
        "/" + "x" * 8000,
        "/users/me",
        "/p/1e5/2.5/-3",
    ]
    events = []
    for i, path in enumerate(paths * 3):
        e: dict[str, Any] = {"ts": 1714564800.0 + i, "client_ip": "10.0.0.1",
                             "method": ["GET", "POST", "PROPFIND"][i % 3], "path": path,
                             "status": 200, "account": f"a{i % 4}"}  # fmt: skip
        if i % 5 == 0:
            e["route"] = "/a/{x}/b"
        events.append(e)
    config = DetectionConfig(sensitive_routes=("/api/users/{id}/profile", "GET /users/me"))
    assert _fold_both(_messages(events, 1, 10), 1, config) == len(events)


def _untouched_by(value: bytes, after: int = -1) -> None:
    assert _FAST is not None
    stage = AccountStage(DetectionConfig())
    assert _FAST.Ingest(stage).ingest(value, after) is None
    assert stage.open_windows() == 0 and not stage.states
    assert stage.watermark == AccountStage(DetectionConfig()).watermark


@needs_c
@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"not json",
        b"[1,0,[[1,[1714564800.5]]]]",  # format 1
        b"[3,0,[],[]]",
        b"[2,0,[],[]]",  # no events
        b'[2,0,[1,2],[[1714564800.5,"10.0.0.1","GET","/",200,null,null,null,null,null,'
        b"null]]]",  # fewer rows than offsets
        b'[2,0,[1],[[1714564800.5,"10.0.0.1","GET","/",200,null,null,null,null,null,'
        b"null]]",  # truncated
        b'[2,0,[1],[[1714564800.5,"10.0.0.1","GET","/",200,null,null,null,null,null]]]',
        b'[2,0,[1],[[1e999,"10.0.0.1","GET","/",200,null,null,null,null,null,null]]]',
    ],
)
def test_a_message_it_does_not_read_leaves_the_stage_untouched(value):
    _untouched_by(value)


@needs_c
def test_escaped_or_non_ascii_strings_and_redeliveries_go_to_the_python_path():
    def message(**fields: Any) -> bytes:
        req = Request(1714564800.5, "10.0.0.1", "GET", "/a", 200, **fields)
        return encode_rows(0, [5, 6], [req, req])

    _untouched_by(message(user_agent='say "hi"'))  # orjson escapes the quotes
    _untouched_by(message(account="j\u00fcrgen"))
    _untouched_by(message(), after=5)  # its first event was seen: duplicates to skip
    assert _FAST is not None
    assert _FAST.Ingest(AccountStage(DetectionConfig())).ingest(message(), 4) is not None


_SEGMENTS = st.sampled_from(
    [
        "",
        "api",
        "users",
        "12",
        "007",
        "1e5",
        "profile",
        "me",
        "x.y",
        "0123456789abcdef",
        "0123456789abcdeF.png",
        "0123456789abcde",
        "0123456789abcdefg",
        "{id}",
        "6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab",
        "6f1c2d3e-0a1b-4c5d-8e9f-0123456789a-",
        "----------------------------------xx",
        "deadbeefcafebabe.tar.gz",
        ".hidden",
    ]
) | st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:@", max_size=40)


@needs_c
@settings(max_examples=500, deadline=None)
@given(st.lists(_SEGMENTS, min_size=1, max_size=8))
def test_the_c_templater_agrees_with_routes_template(segments):
    assert _FAST is not None
    path = "/" + "/".join(segments)
    assert _FAST.template(path.encode()) == reference_template(path)


def test_the_runtime_gives_the_same_outboxes_with_or_without_the_c_ingest():
    config = DetectionConfig(window=60.0, lateness=10.0)
    sim = Simulation(SimConfig(seed=9, hours=1.0, benign_accounts=150, anonymous_visitors=50))
    messages = _messages(list(sim.events()), 2, 300)
    with_c: AccountRuntime[int] = AccountRuntime(config, _Store())
    python: AccountRuntime[int] = AccountRuntime(config, _Store())
    for part in python.partitions.values():
        part.fast = None
    for i, (p, value) in enumerate(messages):
        out, events = with_c.on_message(p, value, i, i)
        python._part(p).fast = None  # this one decodes every message in Python
        expected, n = python.on_message(p, value, i, i)
        assert (events, out) == (n, expected)
        if i == len(messages) // 2:  # a re-delivery of everything so far: duplicates
            for j, (q, again) in enumerate(messages[: i + 1]):
                assert with_c.on_message(q, again, j, j) == python.on_message(q, again, j, j)
    assert with_c.duplicates == python.duplicates > 0
    assert with_c.ackable() == python.ackable()
    if _FAST is None:  # pure Python, or detectors.stages from source: the Python path only
        assert all(part.fast is None for part in with_c.partitions.values())
    else:
        assert all(part.fast is not None for part in with_c.partitions.values())


def test_an_event_validated_by_the_reference_keeps_its_row_shape():
    """The bridge's rows and the reference's rows name the same fields: a guard for the
    C ingest's fixed row layout."""
    req = event_from_obj({"ts": 1714564800, "client_ip": "10.0.0.1", "method": "get",
                          "path": "/x", "status": 200})  # fmt: skip
    assert isinstance(req, Request)
    assert Request._fields == (
        "ts", "client_ip", "method", "path", "status", "account", "route", "bytes",
        "user_agent", "session", "referer",
    )  # fmt: skip


@needs_c
@settings(max_examples=2000, deadline=None)
@given(
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=946684800.0, max_value=4102444800.0)
    | st.integers(min_value=-(2**70), max_value=2**70)
)
def test_numbers_are_read_as_the_json_parser_reads_them(x):
    assert _FAST is not None
    texts = [repr(x).encode(), f"{x:.17g}".encode(), f"{x:.6e}".encode(), f"{x:.3f}".encode()]
    for text in texts:
        if text.lstrip(b"-").startswith(b"0") and text.lstrip(b"-")[1:2].isdigit():
            continue
        if b"inf" in text or b"nan" in text:
            continue
        expected = float(orjson.loads(text))
        assert _FAST.parse_number(text) == expected, text
        if any(c in text for c in b".eE"):  # a float literal: its sign too (-0.0)
            assert str(_FAST.parse_number(text)) == str(expected), text


@needs_c
@pytest.mark.parametrize(
    "text", [b"01", b"1.", b".5", b"1e", b"1e+", b"--1", b"+1", b"-", b"1.5x", b""]
)
def test_what_json_does_not_allow_is_not_read_as_a_number(text):
    assert _FAST is not None
    with pytest.raises(ValueError, match="not a number"):
        _FAST.parse_number(text)
