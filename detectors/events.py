"""The request event as the detectors see it: already validated, typed, immutable."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Request"]


class Request(NamedTuple):
    """One HTTP request (the ``requests`` topic contract, after validation).

    A NamedTuple rather than a frozen dataclass: it is built once per event on the hot
    path, and a tuple constructs about five times faster.

    ``ts`` is epoch seconds. ``account`` is ``None`` for anonymous traffic, in which case
    the entity is the client IP.

    >>> r = Request(ts=1.0, client_ip="10.0.0.1", method="GET", path="/api/users/7", status=200)
    >>> r.entity_type, r.entity
    ('ip', '10.0.0.1')
    """

    ts: float
    client_ip: str
    method: str
    path: str
    status: int
    account: str | None = None
    route: str | None = None
    bytes: int | None = None
    user_agent: str | None = None
    session: str | None = None
    referer: str | None = None

    @property
    def entity_type(self) -> str:
        return "ip" if self.account is None else "account"

    @property
    def entity(self) -> str:
        return self.client_ip if self.account is None else self.account
