"""The pytest plugin membercore installs (entry point ``pytest11``).

It only prepares pytest for the conformance suite: the suite's assertions are rewritten
so that a failing check shows its values, and its marker is registered. It imports
nothing heavy, so that any project with membercore and pytest starts as before.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("membercore.testing.contracts", "membercore.testing.sources")


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's marker, so that ``--strict-markers`` accepts it."""
    config.addinivalue_line("markers", "store_contract: the membercore Store conformance suite")
