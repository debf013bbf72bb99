"""Exceptions of the ``stream`` package: one root, a few precise subclasses.

Bad *input* (a malformed request event) is never an exception on the hot path: it is a
:class:`stream.events.Rejection` that is counted and routed to the DLQ. The classes here
are for problems an operator or a caller has to act on: configuration, the broker, an
alert that breaks its schema, a file that is not JSON lines.

>>> issubclass(AlertValidationError, ScrapewatchError)
True
>>> str(CodecError("line 3: not JSON"))
'line 3: not JSON'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AlertValidationError",
    "BrokerUnavailableError",
    "CodecError",
    "ConfigError",
    "DlqDeliveryError",
    "DlqFormatError",
    "ScrapewatchError",
]


class ScrapewatchError(Exception):
    """Root of every error raised on purpose by ``stream``."""


class ConfigError(ScrapewatchError, ValueError):
    """A setting is missing or has a value that cannot work (name the setting and the value)."""


class BrokerUnavailableError(ScrapewatchError, ConnectionError):
    """The Kafka broker did not answer in time (say which bootstrap servers were tried)."""


class CodecError(ScrapewatchError, ValueError):
    """Bytes that should be JSON (an alert, a JSON-lines file) are not."""


class AlertValidationError(ScrapewatchError, ValueError):
    """An alert breaks the ``alert.v1`` schema; ``errors`` lists every violation.

    >>> err = AlertValidationError(["'entity' is a required property"])
    >>> err.errors
    ("'entity' is a required property",)
    >>> str(err)
    "alert does not match alert.v1 (1 violation): 'entity' is a required property"
    """

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: tuple[str, ...] = tuple(errors)
        count = len(self.errors)
        noun = "violation" if count == 1 else "violations"
        super().__init__(
            f"alert does not match alert.v1 ({count} {noun}): " + "; ".join(self.errors)
        )


class DlqFormatError(ScrapewatchError, ValueError):
    """A message read from the DLQ lacks the ``scrapewatch.*`` headers that explain it."""


class DlqDeliveryError(ScrapewatchError):
    """Rejected messages could not be written to the DLQ; the batch must not be committed."""
