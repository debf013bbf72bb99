"""Integration tests run against a real Kafka broker (see ``tests/conftest.py``).

Every test in this directory is marked ``integration``; the broker fixtures themselves
live in the top-level conftest so that ``tests/e2e`` shares the same session broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this directory's tests ``integration`` (select with ``-m integration``)."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)
