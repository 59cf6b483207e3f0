"""Airflow-style data intervals and backfill ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from workloads.drift.intervals import DataInterval, backfill_intervals, interval_ending, interval_for_scheduled_time


def test_a_run_stamped_d_covers_d_to_d_plus_one():
    interval = DataInterval.stamped(date(2026, 11, 25))
    assert (interval.start, interval.end) == (date(2026, 11, 25), date(2026, 11, 26))
    assert str(interval) == "[2026-11-25, 2026-11-26)"


def test_a_scheduled_run_processes_the_latest_complete_interval():
    assert interval_for_scheduled_time(datetime(2026, 11, 27, 1, 30, tzinfo=UTC)).start == date(2026, 11, 26)
    assert interval_for_scheduled_time(datetime(2026, 11, 27, 0, 0, tzinfo=UTC)).start == date(2026, 11, 26)


def test_scheduled_time_in_another_zone_is_converted_to_utc():
    from zoneinfo import ZoneInfo

    late_evening_in_new_york = datetime(2026, 11, 26, 22, 0, tzinfo=ZoneInfo("America/New_York"))  # 03:00 UTC on the 27th
    assert interval_for_scheduled_time(late_evening_in_new_york).start == date(2026, 11, 26)


def test_interval_end_names_the_exclusive_end():
    assert interval_ending(date(2026, 11, 27)) == DataInterval.stamped(date(2026, 11, 26))


def test_backfill_runs_every_interval_in_order():
    intervals = backfill_intervals(date(2026, 11, 20), date(2026, 11, 22), now=datetime(2026, 11, 27, tzinfo=UTC))
    assert [i.start for i in intervals] == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]


def test_backfill_refuses_intervals_that_have_not_ended():
    with pytest.raises(ValueError, match="stamped 2026-11-27 has not ended yet"):
        backfill_intervals(date(2026, 11, 26), date(2026, 11, 27), now=datetime(2026, 11, 27, 12, tzinfo=UTC))


def test_backfill_refuses_a_reversed_range():
    with pytest.raises(ValueError, match="before its start"):
        backfill_intervals(date(2026, 11, 22), date(2026, 11, 20), now=datetime(2026, 11, 27, tzinfo=UTC))
