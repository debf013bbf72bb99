"""Builders shared by the event-contract tests: a valid event dict and parse assertions."""

from __future__ import annotations

from typing import Any

from detectors.events import Request
from stream.codec import dumps
from stream.events import REASONS, Rejection, parse_event

TS = 1714564800.25  # 2024-05-01T12:00:00.25Z

#: Pass as a field's value to leave the field out of the event.
ABSENT: Any = object()


def event(**overrides: Any) -> dict[str, Any]:
    """A valid minimal event, with ``overrides`` applied (``ABSENT`` removes a field)."""
    base: dict[str, Any] = {
        "ts": TS,
        "client_ip": "203.0.113.7",
        "method": "GET",
        "path": "/api/users/42/profile",
        "status": 200,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ABSENT}


def rejected(obj: Any) -> Rejection:
    result = parse_event(dumps(obj))
    assert isinstance(result, Rejection), result
    assert result.reason in REASONS
    return result


def accepted(obj: Any) -> Request:
    result = parse_event(dumps(obj))
    assert isinstance(result, Request), result
    return result
