from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from membercore import MembercoreError, NaiveInstantError, households
from membercore.dates import (
    add_months,
    age_on,
    anniversary,
    end_of_month_after,
    local_date,
    local_day_start,
    local_month_start,
    local_wall_time,
    next_month_on,
    require_aware,
    zone,
)
from membercore.testing import strategies as mst

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall time in Shanghai."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_zone_names_an_iana_timezone() -> None:
    assert zone("Asia/Shanghai") == SHANGHAI


# -- add_months ---------------------------------------------------------------------------


def test_one_month_after_the_31st_of_january_is_the_28th_of_february() -> None:
    assert add_months(sh(2026, 1, 31, 10, 0), 1, SHANGHAI) == sh(2026, 2, 28, 10, 0)
    assert add_months(sh(2026, 1, 31, 10, 0), 1, SHANGHAI) == utc(2026, 2, 28, 2, 0)


def test_one_month_after_the_31st_of_january_of_a_leap_year_is_the_29th_of_february() -> None:
    assert add_months(sh(2028, 1, 31, 10, 0), 1, SHANGHAI) == sh(2028, 2, 29, 10, 0)


def test_twelve_months_after_a_leap_day_is_the_28th_of_february() -> None:
    assert add_months(sh(2028, 2, 29, 20, 0), 12, SHANGHAI) == utc(2029, 2, 28, 12, 0)


def test_four_years_after_a_leap_day_is_a_leap_day_again() -> None:
    assert add_months(sh(2028, 2, 29, 20, 0), 48, SHANGHAI) == sh(2032, 2, 29, 20, 0)


def test_adding_months_carries_into_the_next_year() -> None:
    assert add_months(sh(2026, 11, 30, 9, 0), 3, SHANGHAI) == sh(2027, 2, 28, 9, 0)
    assert add_months(sh(2026, 12, 31, 9, 0), 2, SHANGHAI) == sh(2027, 2, 28, 9, 0)
    assert add_months(sh(2026, 12, 15, 9, 0), 1, SHANGHAI) == sh(2027, 1, 15, 9, 0)


def test_adding_zero_months_changes_nothing() -> None:
    assert add_months(sh(2026, 4, 8, 10, 15), 0, SHANGHAI) == sh(2026, 4, 8, 10, 15)


def test_months_are_counted_on_the_shanghai_calendar_not_the_utc_one() -> None:
    # 30 January 16:30Z is already 31 January 00:30 in Shanghai: clamped to 28 February
    # 00:30 local, which is 27 February in UTC (UTC reckoning would give 28 February).
    assert add_months(utc(2026, 1, 30, 16, 30), 1, SHANGHAI) == utc(2026, 2, 27, 16, 30)
    # 28 February 16:30Z is 1 March 00:30 in Shanghai: one month on is 1 April 00:30 local.
    assert add_months(utc(2026, 2, 28, 16, 30), 1, SHANGHAI) == utc(2026, 3, 31, 16, 30)


def test_adding_months_keeps_the_local_wall_time_across_daylight_saving() -> None:
    # 09:00 in New York is 14:00Z in January (EST) and 13:00Z in July (EDT).
    winter = datetime(2026, 1, 15, 9, 0, tzinfo=NEW_YORK)
    assert add_months(winter, 6, NEW_YORK) == utc(2026, 7, 15, 13, 0)


def test_the_two_readings_of_an_ambiguous_wall_time_are_two_instants_whatever_the_order() -> None:
    # 01:30 on 1 November 2026 happens twice in New York: 05:30Z (EDT), then 06:30Z
    # (EST). They compare equal as New York times, but are an hour apart in Shanghai.
    # Answers are kept between calls; the second reading must not get the first's.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK)
    second = first.replace(fold=1)
    assert first == second  # within one zone, fold is not compared
    assert add_months(first, 1, SHANGHAI) == utc(2026, 12, 1, 5, 30)
    assert add_months(second, 1, SHANGHAI) == utc(2026, 12, 1, 6, 30)


def test_the_result_of_adding_months_is_in_utc() -> None:
    moved = add_months(sh(2026, 4, 8, 10, 15), 5, SHANGHAI)
    assert moved.tzinfo is UTC
    assert moved == utc(2026, 9, 8, 2, 15)


def test_negative_months_go_back_and_clamp_too() -> None:
    assert add_months(sh(2026, 3, 31, 9, 0), -1, SHANGHAI) == sh(2026, 2, 28, 9, 0)
    assert add_months(sh(2028, 3, 31, 9, 0), -1, SHANGHAI) == sh(2028, 2, 29, 9, 0)
    assert add_months(sh(2026, 3, 31, 9, 0), -13, SHANGHAI) == sh(2025, 2, 28, 9, 0)
    assert add_months(sh(2026, 1, 15, 9, 0), -1, SHANGHAI) == sh(2025, 12, 15, 9, 0)
    assert add_months(sh(2026, 1, 15, 9, 0), -12, SHANGHAI) == sh(2025, 1, 15, 9, 0)


# -- end_of_month_after -------------------------------------------------------------------


def test_points_earned_mid_january_2026_are_good_through_january_2028() -> None:
    end = end_of_month_after(sh(2026, 1, 15, 10, 0), 24, SHANGHAI)
    assert end == sh(2028, 2, 1, 0, 0)
    assert end == utc(2028, 1, 31, 16, 0)


def test_points_earned_late_on_the_last_evening_of_january_count_from_january() -> None:
    earned = sh(2026, 1, 31, 23, 30)
    assert earned == utc(2026, 1, 31, 15, 30)
    assert end_of_month_after(earned, 24, SHANGHAI) == utc(2028, 1, 31, 16, 0)


def test_points_earned_when_it_is_already_february_in_shanghai_count_from_february() -> None:
    # 31 January 17:00Z is 1 February 01:00 in Shanghai: good through February 2028 (a
    # leap February), gone at 1 March 2028 00:00 Shanghai.
    assert end_of_month_after(utc(2026, 1, 31, 17, 0), 24, SHANGHAI) == utc(2028, 2, 29, 16, 0)


def test_points_earned_at_the_first_instant_of_a_month_count_from_that_month() -> None:
    assert end_of_month_after(utc(2026, 1, 31, 16, 0), 24, SHANGHAI) == sh(2028, 3, 1, 0, 0)


def test_the_end_of_the_month_after_december_is_in_the_next_year() -> None:
    assert end_of_month_after(sh(2026, 12, 10, 15, 0), 1, SHANGHAI) == utc(2027, 1, 31, 16, 0)


def test_zero_months_means_the_end_of_the_month_earned() -> None:
    assert end_of_month_after(sh(2026, 4, 8, 10, 15), 0, SHANGHAI) == utc(2026, 4, 30, 16, 0)


# -- birthdays and ages: one rule for 29 February ----------------------------------------

LEAP_DAY = date(2000, 2, 29)


def test_the_anniversary_of_29_february_is_1_march_in_a_common_year() -> None:
    assert anniversary(LEAP_DAY, 2027) == date(2027, 3, 1)
    assert anniversary(LEAP_DAY, 2100) == date(2100, 3, 1)  # a century: a common year


def test_the_anniversary_of_29_february_is_29_february_in_a_leap_year() -> None:
    assert anniversary(LEAP_DAY, 2028) == date(2028, 2, 29)
    assert anniversary(LEAP_DAY, 2400) == date(2400, 2, 29)


@pytest.mark.parametrize("born", [date(2000, 2, 28), date(2000, 3, 1), date(1999, 12, 31)])
@pytest.mark.parametrize("year", [2027, 2028])
def test_every_other_day_has_its_anniversary_on_the_same_day(born: date, year: int) -> None:
    assert anniversary(born, year) == born.replace(year=year)


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2027, 2, 28), 26),  # a common year: not yet
        (date(2027, 3, 1), 27),  # the anniversary
        (date(2028, 2, 28), 27),  # a leap year: not yet
        (date(2028, 2, 29), 28),  # the anniversary
        (date(2028, 3, 1), 28),
    ],
)
def test_someone_born_on_29_february_is_a_year_older_on_the_anniversary(
    day: date, age: int
) -> None:
    assert age_on(LEAP_DAY, day) == age
    assert households.age_on(LEAP_DAY, day) == age  # the households name, the same rule
    assert (age_on(LEAP_DAY, day) > age_on(LEAP_DAY, day - timedelta(days=1))) == (
        day == anniversary(LEAP_DAY, day.year)
    )


@pytest.mark.parametrize("year", [2027, 2028])
def test_age_and_birthday_agree_on_28_february_and_1_march(year: int) -> None:
    for born in (date(2000, 2, 28), LEAP_DAY, date(2000, 3, 1)):
        birthday = anniversary(born, year)
        assert age_on(born, birthday) == year - 2000
        assert age_on(born, birthday - timedelta(days=1)) == year - 2001


def test_someone_born_on_29_february_comes_of_age_on_1_march() -> None:
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 17
    assert age_on(born, date(2026, 3, 1)) == 18


def test_the_day_of_next_month_carries_into_the_next_year() -> None:
    assert next_month_on(date(2026, 1, 31), 12) == date(2026, 2, 12)
    assert next_month_on(date(2026, 12, 20), 1) == date(2027, 1, 1)


def test_a_local_wall_time_is_that_clock_on_that_day_in_the_zone() -> None:
    assert local_wall_time(date(2027, 3, 1), time(9, 0), SHANGHAI) == utc(2027, 3, 1, 1, 0)


_BIRTHS = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
_DAYS = st.dates(min_value=date(1900, 1, 2), max_value=date(2200, 12, 31))


@given(_BIRTHS, _DAYS)
def test_the_age_goes_up_by_one_exactly_on_the_anniversary(born: date, day: date) -> None:
    went_up = age_on(born, day) - age_on(born, day - timedelta(days=1))
    assert went_up == (1 if day == anniversary(born, day.year) else 0)


@given(_BIRTHS, st.integers(min_value=0, max_value=100))
def test_on_the_nth_anniversary_one_is_n_years_old(born: date, years: int) -> None:
    assert age_on(born, anniversary(born, born.year + years)) == years
    assert households.age_on(born, anniversary(born, born.year + years)) == years


# -- local calendar -----------------------------------------------------------------------


def test_the_local_date_turns_over_at_shanghai_midnight_not_utc_midnight() -> None:
    assert local_date(utc(2026, 1, 31, 16, 0) - timedelta(seconds=1), SHANGHAI) == date(2026, 1, 31)
    assert local_date(utc(2026, 1, 31, 16, 0), SHANGHAI) == date(2026, 2, 1)
    assert local_date(utc(2026, 1, 31, 16, 0), ZoneInfo("UTC")) == date(2026, 1, 31)


def test_the_local_date_turns_over_the_year_at_shanghai_midnight() -> None:
    assert local_date(utc(2026, 12, 31, 16, 0), SHANGHAI) == date(2027, 1, 1)


def test_a_shanghai_day_begins_at_sixteen_hundred_utc_the_day_before() -> None:
    start = local_day_start(date(2026, 2, 1), SHANGHAI)
    assert start == utc(2026, 1, 31, 16, 0)
    assert start.tzinfo is UTC


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 3, utc(2026, 2, 28, 16, 0)),
        (2026, 13, utc(2026, 12, 31, 16, 0)),
        (2026, 0, utc(2025, 11, 30, 16, 0)),
        (2026, -11, utc(2024, 12, 31, 16, 0)),
        (2026, 26, utc(2028, 1, 31, 16, 0)),
    ],
)
def test_a_month_start_carries_overflowing_months_into_the_year(
    year: int, month: int, expected: datetime
) -> None:
    assert local_month_start(year, month, SHANGHAI) == expected


# -- require_aware ------------------------------------------------------------------------


def test_a_naive_instant_is_refused_naming_the_field() -> None:
    naive = datetime(2026, 4, 8, 10, 15)  # noqa: DTZ001 - the point of the test
    with pytest.raises(NaiveInstantError) as excinfo:
        require_aware("occurred_at", naive)
    error = excinfo.value
    assert isinstance(error, MembercoreError)
    assert isinstance(error, ValueError)
    assert error.field == "occurred_at"
    assert error.value is naive
    assert "occurred_at" in str(error)
    assert "timezone-aware" in str(error)


class _Unknowable(tzinfo):
    """A timezone that cannot tell its offset: the instant is as good as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_an_instant_whose_timezone_gives_no_offset_is_refused_as_naive() -> None:
    with pytest.raises(NaiveInstantError):
        require_aware("now", datetime(2026, 4, 8, 10, 15, tzinfo=_Unknowable()))


def test_an_aware_instant_is_converted_to_utc() -> None:
    converted = require_aware("now", sh(2026, 4, 8, 10, 15))
    assert converted == utc(2026, 4, 8, 2, 15)
    assert converted.tzinfo is UTC
    assert (converted.hour, converted.minute) == (2, 15)


def test_a_utc_instant_is_returned_unchanged() -> None:
    assert require_aware("now", utc(2026, 4, 8, 2, 15)) == utc(2026, 4, 8, 2, 15)


# -- properties ---------------------------------------------------------------------------

_TIMEZONES = st.sampled_from([SHANGHAI, ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")])
_MONTHS = st.integers(min_value=-120, max_value=120)


def _days_in_month_after(local: datetime, months: int) -> int:
    year, month = divmod(local.year * 12 + local.month - 1 + months, 12)
    return calendar.monthrange(year, month + 1)[1]


@given(mst.instants(), _MONTHS, _TIMEZONES)
def test_adding_months_keeps_the_wall_time_and_clamps_the_day(
    instant: datetime, months: int, tz: ZoneInfo
) -> None:
    local = instant.astimezone(tz)
    moved = add_months(instant, months, tz).astimezone(tz)
    assert moved.time() == local.time()
    assert moved.day == min(local.day, _days_in_month_after(local, months))
    assert moved.year * 12 + moved.month == local.year * 12 + local.month + months


@given(mst.instants(), _MONTHS, _TIMEZONES)
def test_going_there_and_back_returns_the_instant_unless_the_day_was_clamped(
    instant: datetime, months: int, tz: ZoneInfo
) -> None:
    back = add_months(add_months(instant, months, tz), -months, tz)
    local = instant.astimezone(tz)
    clamped = local.day > _days_in_month_after(local, months)
    if not clamped:
        assert back == instant
    else:
        # Earlier, on a day of the same local month, at the same wall time.
        assert back < instant
        back_local = back.astimezone(tz)
        assert (back_local.year, back_local.month) == (local.year, local.month)
        assert back_local.day == _days_in_month_after(local, months)
        assert back_local.time() == local.time()


@given(mst.instants(), st.integers(min_value=0, max_value=36), _TIMEZONES)
def test_the_end_of_a_later_month_is_a_local_midnight_on_a_first_after_the_instant(
    instant: datetime, months: int, tz: ZoneInfo
) -> None:
    end = end_of_month_after(instant, months, tz)
    assert end > instant
    local_end = end.astimezone(tz)
    assert local_end.day == 1
    assert local_end.time() == time(0, 0)
    local = instant.astimezone(tz)
    assert local_end.year * 12 + local_end.month == local.year * 12 + local.month + months + 1
    # The instant before the end is still on the last day of the months-th month after.
    last = (end - timedelta(microseconds=1)).astimezone(tz)
    assert last.day == calendar.monthrange(last.year, last.month)[1]


@given(mst.instants())
def test_every_instant_falls_on_the_local_day_that_starts_at_or_before_it(
    instant: datetime,
) -> None:
    day = local_date(instant, SHANGHAI)
    start = local_day_start(day, SHANGHAI)
    assert start <= instant < start + timedelta(days=1)
