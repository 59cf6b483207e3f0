"""Airflow-style data intervals and backfill ranges."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from workloads.drift.__main__ import main
from workloads.drift.errors import IntervalNotEndedError
from workloads.drift.intervals import (
    DataInterval,
    backfill_intervals,
    interval_ending,
    interval_for_scheduled_time,
    parse_time,
)


@pytest.fixture
def new_york(monkeypatch):
    """The host's time zone is not UTC (as on a laptop); restored after the test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


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
    with pytest.raises(IntervalNotEndedError, match="stamped 2026-11-27 has not ended yet"):
        backfill_intervals(date(2026, 11, 26), date(2026, 11, 27), now=datetime(2026, 11, 27, 12, tzinfo=UTC))


def test_backfill_refuses_a_reversed_range():
    with pytest.raises(ValueError, match="before its start"):
        backfill_intervals(date(2026, 11, 22), date(2026, 11, 20), now=datetime(2026, 11, 27, tzinfo=UTC))


def test_a_naive_time_is_utc_whatever_the_hosts_zone(new_york):
    assert time.localtime(0).tm_hour != 0  # the zone really is not UTC here
    assert parse_time("2026-11-27T01:30") == datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    assert parse_time("2026-11-27T01:30:00+01:00") == datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    # 23:30 on the 26th read as UTC is still the 26th: the interval stamped the 25th runs.
    assert interval_for_scheduled_time(datetime(2026, 11, 26, 23, 30)).start == date(2026, 11, 25)
    assert interval_for_scheduled_time(parse_time("2026-11-27T00:30")).start == date(2026, 11, 26)


def test_scheduled_time_help_says_a_naive_time_is_utc(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "without an offset it is UTC, whatever the host's time zone" in " ".join(capsys.readouterr().out.split())


def test_an_interval_that_has_not_ended_exits_9_before_touching_any_server(capsys):
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert main(["run", "--model", "churn", "--interval-end", tomorrow]) == 9
    assert "IntervalNotEndedError" in capsys.readouterr().err
    assert main(["backfill", "--model", "churn", "--start", "2026-01-01", "--end", tomorrow]) == 9


def test_the_cli_reads_the_same_interval_on_a_host_in_new_york():
    """End to end in a fresh interpreter whose TZ is New York: dates and naive times are UTC."""
    script = ("import datetime as d; from workloads.drift.intervals import iso_time as _time; "
              "from workloads.drift.intervals import interval_for_scheduled_time as f; "
              "print(f(_time('2026-11-27T00:30')).start, d.datetime.now().astimezone().utcoffset())")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], env={"TZ": "America/New_York", "PATH": "/usr/bin:/bin"},
                         cwd=root, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "2026-11-26" and out[1].startswith("-")
