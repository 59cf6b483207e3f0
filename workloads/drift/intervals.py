"""Airflow-style daily data intervals.

A run stamped D covers [D, D+1) and may only run once that interval has ended. A scheduled run
at time T therefore processes the latest interval that ended at or before T: the one stamped
(T's date - 1 day). Backfill runs every stamp in [start, end] in order.

Every time here is UTC on any host: a time without an offset is read as UTC, never in the
host's zone (`parse_time`), so the same command processes the same interval everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from workloads.drift.errors import IntervalNotEndedError


@dataclass(frozen=True, order=True)
class DataInterval:
    start: date  # the stamp
    end: date  # exclusive

    @classmethod
    def stamped(cls, day: date) -> DataInterval:
        return cls(day, day + timedelta(days=1))

    @property
    def start_time(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def end_time(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def interval_ending(end: date) -> DataInterval:
    """The daily interval that ends at `end` (exclusive): `--interval-end 2026-11-27` -> 11-26."""
    return DataInterval.stamped(end - timedelta(days=1))


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive time is taken to be UTC already (not the host's local time)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (`2026-11-27T01:30`, `...Z`, `...+01:00`) as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(text))


def interval_for_scheduled_time(scheduled: datetime) -> DataInterval:
    """The latest complete interval at `scheduled` (naive = UTC)."""
    return interval_ending(as_utc(scheduled).date())


def require_ended(interval: DataInterval, now: datetime) -> None:
    if interval.end_time > as_utc(now):
        raise IntervalNotEndedError(f"interval stamped {interval.start} has not ended yet "
                                    f"(it ends {interval.end_time.isoformat()}; now {as_utc(now).isoformat(timespec='seconds')})")


def backfill_intervals(first: date, last: date, now: datetime) -> list[DataInterval]:
    """Every interval stamped first..last (inclusive), oldest first; all must have ended
    (ValueError for a reversed range, IntervalNotEndedError for one that has not ended)."""
    if last < first:
        raise ValueError(f"backfill end {last} is before its start {first}")
    intervals = [DataInterval.stamped(first + timedelta(days=i)) for i in range((last - first).days + 1)]
    require_ended(intervals[-1], now)
    return intervals


def iso_time(text: str) -> datetime:
    """argparse type: an ISO 8601 time, as `parse_time`."""
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def add_interval_arguments(one: argparse.ArgumentParser, backfill: argparse.ArgumentParser, verb: str) -> None:
    """`--interval-end | --scheduled-time` on the one-interval command, `--start --end` on backfill
    (the drift and batch scoring jobs' shared command line); `verb` says what a run does."""
    when = one.add_mutually_exclusive_group()
    when.add_argument("--interval-end", type=date.fromisoformat, help="YYYY-MM-DD (a UTC day): the interval [end-1d, end)")
    when.add_argument("--scheduled-time", type=iso_time,
                      help="ISO 8601 time of the scheduled run (default: now); without an offset it is UTC, "
                           f"whatever the host's time zone; its latest complete interval {verb}")
    backfill.add_argument("--start", type=date.fromisoformat, required=True, help="YYYY-MM-DD (UTC day)")
    backfill.add_argument("--end", type=date.fromisoformat, required=True, help="YYYY-MM-DD (UTC day)")


def interval_to_run(interval_end: date | None, scheduled_time: datetime | None, now: datetime) -> DataInterval:
    """The interval a one-interval command runs: `--interval-end`'s, else the latest complete one
    at `--scheduled-time` (default `now`); it must have ended."""
    interval = interval_ending(interval_end) if interval_end else interval_for_scheduled_time(scheduled_time or now)
    require_ended(interval, now)
    return interval
