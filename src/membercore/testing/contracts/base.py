"""What every contract class shares: the fixture a backend overrides, and the role check."""

# The suite's test names read as sentences and are their own documentation, as the
# project's tests are (whose D rules are off for the same reason).
# ruff: noqa: D102

from __future__ import annotations

from typing import ClassVar

import pytest

from membercore.ports import Recorder

__all__ = ["Contract"]


@pytest.mark.store_contract
class Contract:
    """A conformance suite for one role of the store port (``role``), or for them all.

    Subclass a contract as ``Test<YourStore>`` and override the ``store`` fixture with one
    that yields a fresh, empty store and closes it afterwards (closing twice must be
    harmless).
    """

    #: The protocol of :mod:`membercore.ports` the store must implement.
    role: ClassVar[type] = Recorder

    @pytest.fixture
    def store(self) -> Recorder:
        """A fresh, empty store; a backend's test class overrides this fixture."""
        raise NotImplementedError(f"{type(self).__name__} must override the store fixture")

    def test_the_store_implements_the_port_and_names_its_url(self, store: Recorder) -> None:
        assert isinstance(store, self.role)
        assert isinstance(store.url, str)
        assert store.url
