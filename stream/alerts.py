"""Alerts on the wire: the packaged ``alert.v1`` JSON Schema, validation, bytes and text.

The schema ships inside the package (``stream/schemas/alert.v1.json``) and is loaded once;
blockers reading the ``alerts`` topic can validate against the same file.

>>> from detectors.alerts import make_alert
>>> alert = make_alert(entity_type="account", entity="acct-42", detector="population",
...     score=9.5, threshold=4.0, severity="high", window=(1714564800.0, 1714564860.0),
...     features={"distinct_ids": (812.0, 14.0)}, reasons=["812 distinct profiles in 60 s"],
...     evidence={}, model_version="m1", emitted_at=1714564861.0)
>>> validate_alert(alert)
>>> alert_key(alert)
b'account:acct-42'
>>> decode_alert(encode_alert(alert)) == alert
True
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Final

from jsonschema import Draft202012Validator

from stream import codec
from stream.errors import AlertValidationError, CodecError

__all__ = [
    "SCHEMA_RESOURCE",
    "alert_key",
    "alert_schema",
    "decode_alert",
    "encode_alert",
    "format_alert",
    "validate_alert",
]

#: Where the schema lives inside the ``stream`` package.
SCHEMA_RESOURCE: Final = "schemas/alert.v1.json"


@cache
def alert_schema() -> dict[str, Any]:
    """The ``alert.v1`` JSON Schema, read from the installed package."""
    text = resources.files("stream").joinpath(SCHEMA_RESOURCE).read_bytes()
    schema: dict[str, Any] = codec.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    schema = alert_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_alert(alert: Mapping[str, Any]) -> None:
    """Raise :class:`AlertValidationError` listing every way ``alert`` breaks the schema."""
    errors = sorted(_validator().iter_errors(alert), key=lambda e: list(map(str, e.path)))
    if errors:
        raise AlertValidationError([_explain(e) for e in errors])


def alert_key(alert: Mapping[str, Any]) -> bytes:
    """Kafka key of an alert: ``entity_type:entity`` (one partition per entity)."""
    return f"{alert['entity_type']}:{alert['entity']}".encode()


def encode_alert(alert: Mapping[str, Any], *, validate: bool = True) -> bytes:
    """Bytes for the ``alerts`` topic (sorted keys); validated first unless told otherwise."""
    if validate:
        validate_alert(alert)
    return codec.dumps_alert(alert)


def decode_alert(raw: bytes) -> dict[str, Any]:
    """Parse and validate one ``alerts`` message value.

    Raises :class:`CodecError` when the bytes are not a JSON object and
    :class:`AlertValidationError` when the object breaks the schema.
    """
    try:
        alert = codec.loads(raw)
    except codec.JSONDecodeError as exc:
        raise CodecError(f"alert: expected a JSON object, got invalid JSON ({exc})") from exc
    if not isinstance(alert, dict):
        raise CodecError(f"alert: expected a JSON object, got {type(alert).__name__}")
    validate_alert(alert)
    return alert


def format_alert(alert: Mapping[str, Any]) -> str:
    """One readable line, then one indented line per reason (``scrapewatch alerts tail``).

    Tolerates partial alerts (missing fields show as ``?``) so a tail never crashes.
    """
    window = alert.get("window") or {}
    action = alert.get("suggested_action") or {}
    head = (
        f"{_when(alert.get('emitted_at'))} {str(alert.get('severity', '?')).upper():8} "
        f"{alert.get('entity_type', '?')}:{alert.get('entity', '?')} "
        f"detector={alert.get('detector', '?')} "
        f"score={_num(alert.get('score'))}/{_num(alert.get('threshold'))} "
        f"window={_when(window.get('start'))}..{_when(window.get('end'))} "
        f"action={action.get('action', '?')}/{_ttl(action.get('ttl_seconds'))} "
        f"model={alert.get('model_version', '?')} id={alert.get('alert_id', '?')}"
    )
    reasons = alert.get("reasons") or []
    return "\n".join([head, *(f"  - {reason}" for reason in reasons)])


def _explain(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"at {where or '(root)'}: {error.message}"


def _when(ts: object) -> str:
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        try:
            moment = datetime.fromtimestamp(ts, UTC)
        except (ValueError, OverflowError, OSError):
            return str(ts)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return "?"


def _num(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.3g}"
    return "?"


def _ttl(seconds: object) -> str:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return "?"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
