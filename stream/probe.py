"""Asking a running worker over HTTP: a /metrics sample, /readyz, a free local port.

Used by the commands that drive worker processes (``demo``, ``bench``) and by the tests.
"""

from __future__ import annotations

import socket
import urllib.request

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
