"""The rhythm the profile, the ledger and the tier state share to search what they may let go."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from membercore.forgetting import FORGET_AT_ONCE, enough, rhythm, worth_asking


def test_a_part_of_a_few_hundred_things_asks_every_batch() -> None:
    assert [held for held in range(1, 512) if worth_asking(held)] == list(
        range(FORGET_AT_ONCE, 512, FORGET_AT_ONCE)
    )
    assert not worth_asking(0)


@given(st.integers(512, 10**7))
def test_past_that_a_part_asks_every_sixteenth_to_eighth_of_what_it_holds(held: int) -> None:
    step = rhythm(held)
    assert step & (step - 1) == 0  # a power of two: every multiple is met on the way up
    assert held / 16 < step <= held / 8


def test_the_searches_read_about_as_much_as_the_things_taken_whatever_their_number() -> None:
    # A search reads everything held: summed over a part that only grows, what the
    # searches read stays within a constant of what the part took (at a search every
    # 32 things it would grow with the square of their number).
    taken = 200_000
    read = sum(held for held in range(1, taken + 1) if worth_asking(held))
    assert read <= 16 * taken


def test_what_is_found_is_let_go_only_in_batches() -> None:
    assert not enough(FORGET_AT_ONCE - 1)
    assert enough(FORGET_AT_ONCE)
