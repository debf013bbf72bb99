"""Alerts against the packaged alert.v1 schema: validation, key, bytes, text."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from detectors.alerts import make_alert
from stream.alerts import (
    alert_key,
    alert_schema,
    decode_alert,
    encode_alert,
    format_alert,
    validate_alert,
)
from stream.codec import dumps
from stream.errors import AlertValidationError, CodecError

REQUIRED = alert_schema()["required"]


@pytest.fixture
def alert() -> dict[str, Any]:
    return make_alert(
        entity_type="account",
        entity="acct-42",
        detector="enumeration",
        score=12.5,
        threshold=4.0,
        severity="critical",
        window=(1714564800.0, 1714568400.0),
        features={"distinct_ids": (5123.0, 40.0), "sequential_walk": (0.97, None)},
        reasons=["5,123 distinct profiles in 1 h (population p99.9: 40)", "ids walked in order"],
        evidence={"resource_ids": ["1001", "1002"], "client_ips": ["203.0.113.7"]},
        model_version="2024-05-01.1",
        emitted_at=1714568401.0,
    )


def test_schema_is_the_packaged_v1(alert: dict[str, Any]) -> None:
    schema = alert_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"] == {"const": 1}
    assert alert_schema() is schema  # read once


def test_a_made_alert_is_valid(alert: dict[str, Any]) -> None:
    validate_alert(alert)


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_required_field_is_named(alert: dict[str, Any], name: str) -> None:
    del alert[name]
    with pytest.raises(AlertValidationError) as info:
        validate_alert(alert)
    assert info.value.errors == (f"at (root): '{name}' is a required property",)


def test_every_violation_is_listed_with_its_place(alert: dict[str, Any]) -> None:
    del alert["entity"]
    alert["score"] = "high"
    alert["window"]["end"] = None
    alert["suggested_action"]["action"] = "nuke"
    alert["alert_id"] = "not-a-hash"
    with pytest.raises(AlertValidationError) as info:
        validate_alert(alert)
    errors = info.value.errors
    assert len(errors) == 5
    assert "at (root): 'entity' is a required property" in errors
    assert "at score: 'high' is not of type 'number'" in errors
    assert "at window/end: None is not of type 'number'" in errors
    assert any(e.startswith("at suggested_action/action: 'nuke' is not one of") for e in errors)
    assert any(e.startswith("at alert_id: 'not-a-hash' does not match") for e in errors)
    assert str(info.value).startswith("alert does not match alert.v1 (5 violations): ")


def test_key_is_entity_type_and_entity(alert: dict[str, Any]) -> None:
    assert alert_key(alert) == b"account:acct-42"


def test_encode_decode_round_trip_with_sorted_keys(alert: dict[str, Any]) -> None:
    raw = encode_alert(alert)
    assert raw.startswith(b'{"alert_id":')
    assert encode_alert(dict(reversed(list(alert.items())))) == raw
    assert decode_alert(raw) == alert


def test_encode_refuses_an_invalid_alert_unless_told(alert: dict[str, Any]) -> None:
    del alert["reasons"]
    with pytest.raises(AlertValidationError, match="'reasons' is a required property"):
        encode_alert(alert)
    assert b"reasons" not in encode_alert(alert, validate=False)


@pytest.mark.parametrize(("raw", "match"), [(b"{", "invalid JSON"), (b"[1]", "got list")])
def test_decode_refuses_what_is_not_a_json_object(raw: bytes, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        decode_alert(raw)


def test_decode_validates(alert: dict[str, Any]) -> None:
    broken = copy.deepcopy(alert)
    broken["schema_version"] = 2
    with pytest.raises(AlertValidationError, match="at schema_version: 1 was expected"):
        decode_alert(dumps(broken))


def test_format_is_one_line_plus_reasons(alert: dict[str, Any]) -> None:
    assert format_alert(alert) == (
        "2024-05-01T13:00:01Z CRITICAL account:acct-42 detector=enumeration score=12.5/4 "
        "window=2024-05-01T12:00:00Z..2024-05-01T13:00:00Z action=block/24h "
        f"model=2024-05-01.1 id={alert['alert_id']}\n"
        "  - 5,123 distinct profiles in 1 h (population p99.9: 40)\n"
        "  - ids walked in order"
    )


def test_format_tolerates_a_partial_alert() -> None:
    text = format_alert(
        {"entity": "x", "suggested_action": {"ttl_seconds": 90}, "emitted_at": 1e300}
    )
    assert text == "1e+300 ?        ?:x detector=? score=?/? window=?..? action=?/90s model=? id=?"
