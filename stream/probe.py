"""Asking a running worker over HTTP: a /metrics sample, /readyz, a free local port.

Used by the commands that drive worker processes (``demo``, ``bench``) and by the tests.
"""

from __future__ import annotations

import random
import socket
import urllib.request
from pathlib import Path

__all__ = ["free_port", "metric", "ready"]


def metric(port: int, sample: str, host: str = "127.0.0.1") -> float:
    """Sum of the samples whose line starts with ``sample`` (0.0 when unreachable).

    ``sample`` is a metric name, optionally with its label set, e.g.
    ``'scrapewatch_events_total{result="processed"}'``.
    """
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith(sample) and not line.startswith("#")
    )


def ready(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the worker's ``/readyz`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the local ports of outgoing connections."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # the Linux default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(count: int = 1) -> int:
    """A port on 127.0.0.1 such that it and the ``count - 1`` after it are free.

    Chosen below the kernel's ephemeral range: a port from inside it (what binding port 0
    gives) can be taken by any outgoing connection between the choice and the server's
    bind, which is seconds for a worker or a broker starting up.
    """
    low, _ = _ephemeral_range()
    first, last = (10000, low - count) if low - count > 10000 else (1024, 9999 - count)
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(first, last)
        if all(_bindable(port + i) for i in range(count)):
            return port
    raise RuntimeError(f"no {count} free consecutive port(s) found on 127.0.0.1")
