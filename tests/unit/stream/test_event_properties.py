"""Property: whatever comes in, the decoder answers with a Request or a Rejection."""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import Request
from stream.codec import dumps
from stream.events import (
    OPTIONAL_FIELDS,
    REASONS,
    REQUIRED_FIELDS,
    Rejection,
    encode_event,
    event_from_obj,
    parse_event,
)

FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=64)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Values a Python caller can put in a dict that JSON cannot carry.
python_values = (
    json_values
    | st.floats()
    | st.integers()
    | st.binary(max_size=16)
    | st.tuples(st.integers())
    | st.datetimes()
)
plausible_values = st.sampled_from(
    [
        1714564800,
        1714564800.5,
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:60+01:00",
        "10.0.0.1",
        "::1",
        "GET",
        "post",
        "/api/users/1?x=1",
        200,
        599,
        "",
        "acct-1",
    ]
)


def event_dicts(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts built from the real field names, each present or not, with arbitrary values."""
    return st.dictionaries(
        st.sampled_from(FIELDS) | st.text(max_size=6), values, max_size=len(FIELDS) + 2
    )


def check(result: object) -> None:
    assert isinstance(result, Request | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REASONS
        assert result.field is None or result.field in FIELDS
        assert result.message
        result.message.encode("utf-8", "backslashreplace")
    else:
        assert result == parse_event(encode_event(result))  # a valid event survives a round trip


@settings(max_examples=400)
@given(st.binary(max_size=512))
def test_arbitrary_bytes(raw: bytes) -> None:
    check(parse_event(raw))


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    check(parse_event(dumps(value)))


@settings(max_examples=400)
@given(event_dicts(json_values | plausible_values))
def test_dicts_with_field_names_as_json(obj: dict[str, Any]) -> None:
    check(parse_event(dumps(obj)))


@settings(max_examples=400)
@given(event_dicts(python_values | plausible_values))
def test_dicts_with_field_names_as_python_objects(obj: dict[str, Any]) -> None:
    check(event_from_obj(obj))


valid_events = st.fixed_dictionaries(
    {
        "ts": st.floats(min_value=946684800, max_value=4102444799, allow_nan=False),
        "client_ip": st.ip_addresses(v=4).map(str),
        "method": st.sampled_from(["GET", "PATCH", "PROPFIND"]),
        "path": st.text(
            st.characters(codec="ascii", min_codepoint=33, max_codepoint=126), max_size=40
        )
        .filter(lambda p: "?" not in p and "#" not in p)
        .map(lambda p: "/" + p),
        "status": st.integers(100, 599),
        "account": st.none() | st.text(min_size=1, max_size=20),
        "bytes": st.none() | st.integers(0, 2**63 - 1),
    }
)


@settings(max_examples=200)
@given(valid_events)
def test_valid_events_are_accepted_unchanged(obj: dict[str, Any]) -> None:
    result = parse_event(dumps(obj))
    assert isinstance(result, Request), result
    assert result._asdict() | obj == result._asdict()


@settings(max_examples=500)
@given(
    st.ip_addresses(v=6)
    | st.integers(0, 2**48).map(IPv6Address)
    | st.ip_addresses(network="::ffff:0:0/96")
)
def test_ipv6_is_kept_in_the_canonical_form_of_the_ipaddress_module(address: IPv6Address) -> None:
    mapped = address.ipv4_mapped
    expected = str(mapped) if mapped is not None else str(address)
    for text in (str(address), address.exploded, address.exploded.upper()):
        result = event_from_obj(
            {"ts": 1714564800, "client_ip": text, "method": "GET", "path": "/", "status": 200}
        )
        assert isinstance(result, Request)
        assert result.client_ip == expected
