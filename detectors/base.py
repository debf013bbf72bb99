"""The detector protocol every scoring model in ``detectors`` follows.

A detector scores a feature vector (``Mapping[str, float]``); higher means more anomalous.
It never decides: thresholds, calibration, cooldown and severity live in
``detectors.decision``. It must be picklable (its state travels through Kafka changelogs and
model snapshots), deterministic for a given ``seed``, return finite scores, and tolerate
missing features (treat them as absent, not as zero, unless documented otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = [
    "STATE_VERSION",
    "Detector",
    "Features",
    "Record",
    "VersionedState",
    "check_state_version",
]

Features = Mapping[str, float]

#: Bumped whenever the pickled layout of any detector or entity state changes incompatibly;
#: loaders refuse state of another version with a clear error instead of misreading it.
STATE_VERSION = 1


@runtime_checkable
class Detector(Protocol):
    """``learn_one`` / ``score_one`` in the river style, plus the baselines for reasons."""

    def learn_one(self, x: Features) -> None:
        """Update the model with one observation judged normal."""

    def score_one(self, x: Features) -> float:
        """Anomaly score of ``x`` (higher is more anomalous; finite; 0.0 when unsure)."""

    def baselines(self) -> dict[str, float]:
        """What "normal" is for each feature the detector knows (for alert reasons)."""


def check_state_version(what: str, state: dict[str, Any]) -> None:
    """Pop ``state_version`` from a pickled ``state``; refuse any other version.

    >>> check_state_version("Thing state", {"state_version": STATE_VERSION})
    >>> check_state_version("Thing state", {"state_version": -1})
    Traceback (most recent call last):
    ...
    ValueError: Thing state version -1 cannot be loaded; expected 1
    """
    version = state.pop("state_version", None)
    if version != STATE_VERSION:
        raise ValueError(f"{what} version {version!r} cannot be loaded; expected {STATE_VERSION}")


class VersionedState:
    """Mixin for ``__dict__`` classes: pickles the attributes with :data:`STATE_VERSION`
    and refuses state of another version, naming the class."""

    #: Attributes rebuilt on demand (bound-method caches of the hot path), never pickled.
    _TRANSIENT: ClassVar[tuple[str, ...]] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = {**self.__dict__, "state_version": STATE_VERSION}
        for name in self._TRANSIENT:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        check_state_version(f"{type(self).__name__} state", state)
        self.__dict__.update(state)


class Record:
    """A small value object: its ``_fields`` (its ``__slots__``, in order) are compared,
    hashed, shown and pickled as a tuple.

    For the records made once per endpoint or account window (``EndpointPartial``,
    ``WindowSummary``): a frozen dataclass's ``__init__`` is written by ``dataclasses`` at
    import and runs as interpreted Python even in the compiled build, about ten times the
    cost of the plain ``__init__`` a subclass writes. Fields are not reassigned after
    ``__init__`` (by convention: enforcing it would cost as much again).

    >>> class P(Record):
    ...     _fields = __slots__ = ("x", "y")
    ...     def __init__(self, x, y): self.x, self.y = x, y
    >>> P(1, "a") == P(1, "a"), P(1, "a"), hash(P(1, "a")) == hash(P(1, "a"))
    (True, P(x=1, y='a'), True)
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def fields(self) -> tuple[Any, ...]:
        """The field values, in order."""
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.fields() == other.fields()

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        body = ", ".join([f"{name}={getattr(self, name)!r}" for name in self._fields])
        return f"{type(self).__name__}({body})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self.fields())

    def __setstate__(self, state: Any) -> None:
        # pickles of the frozen dataclass these records were before: its field values
        for name, value in zip(self._fields, state, strict=True):
            object.__setattr__(self, name, value)
