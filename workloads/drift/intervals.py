"""Airflow-style daily data intervals.

A run stamped D covers [D, D+1) and may only run once that interval has ended. A scheduled run
at time T therefore processes the latest interval that ended at or before T: the one stamped
(T's date - 1 day). Backfill runs every stamp in [start, end] in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


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


def interval_for_scheduled_time(scheduled: datetime) -> DataInterval:
    """The latest complete interval at `scheduled` (a time zone-aware instant)."""
    return interval_ending(scheduled.astimezone(UTC).date())


def backfill_intervals(first: date, last: date, now: datetime) -> list[DataInterval]:
    """Every interval stamped first..last (inclusive), oldest first; all must have ended."""
    if last < first:
        raise ValueError(f"backfill end {last} is before its start {first}")
    intervals = [DataInterval.stamped(first + timedelta(days=i)) for i in range((last - first).days + 1)]
    unfinished = [i for i in intervals if i.end_time > now]
    if unfinished:
        raise ValueError(f"interval stamped {unfinished[0].start} has not ended yet (it ends {unfinished[0].end_time.isoformat()})")
    return intervals
