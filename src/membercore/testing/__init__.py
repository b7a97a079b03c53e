"""The testing kit membercore ships: Hypothesis strategies and an in-memory book.

Needs Hypothesis (``pip install membercore[testing]``).
"""

from __future__ import annotations

from membercore.testing import strategies
from membercore.testing.book import Book

__all__ = ["Book", "strategies"]
