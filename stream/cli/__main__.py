"""``python -m stream.cli``: the same as the ``scrapewatch`` console script."""

from __future__ import annotations

from stream.cli import main

main()
