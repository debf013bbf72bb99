"""The package's exceptions: one root, precise subclasses."""

from __future__ import annotations

import pytest

from stream import errors


@pytest.mark.parametrize("name", [n for n in errors.__all__ if n != "ScrapewatchError"])
def test_every_error_derives_from_the_root(name: str) -> None:
    assert issubclass(getattr(errors, name), errors.ScrapewatchError)


def test_value_like_errors_are_value_errors() -> None:
    for cls in (
        errors.ConfigError,
        errors.CodecError,
        errors.AlertValidationError,
        errors.DlqFormatError,
    ):
        assert issubclass(cls, ValueError)
    assert issubclass(errors.BrokerUnavailableError, ConnectionError)


def test_alert_validation_error_counts_its_violations() -> None:
    err = errors.AlertValidationError(["a", "b"])
    assert err.errors == ("a", "b")
    assert str(err) == "alert does not match alert.v1 (2 violations): a; b"
