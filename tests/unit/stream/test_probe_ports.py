"""``stream.probe.free_port``: ports a server started seconds later can still bind."""

from __future__ import annotations

import socket
from pathlib import Path

from stream.probe import _bindable, free_port


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError):
        return 32768


def test_a_run_of_free_ports_below_the_ephemeral_range_that_can_be_bound() -> None:
    port = free_port(count=2)
    low = _ephemeral_low()
    if low > 10002:  # below it, when the kernel leaves room (the usual 32768)
        assert 10000 <= port < low - 1
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", port))
        second.bind(("127.0.0.1", port + 1))


def test_a_port_something_holds_counts_as_taken() -> None:
    port = free_port()
    assert _bindable(port)
    with socket.socket() as held:
        held.bind(("127.0.0.1", port))
        assert not _bindable(port)  # so free_port passes over it
    assert _bindable(port)
