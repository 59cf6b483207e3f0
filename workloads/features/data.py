"""Example source data for the feature store, derived from the shared churn dataset.

`synthesize` turns `workloads.churn.generate` customers into the offline store's two sources
(profile changes and daily activity snapshots) plus training labels; `write_tables` puts them
in S3 as parquet, one file per day, so a new day is a new file and older files stay untouched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from workloads.churn import CATEGORIES, generate

PROFILE_FEATURES = ("tenure_months", "monthly_charges", "total_charges", *CATEGORIES)
ACTIVITY_FEATURES = ("support_calls", "usage_gb", "days_since_login")
MODEL_FEATURES = PROFILE_FEATURES + ACTIVITY_FEATURES
KEYS = ("customer_id", "event_timestamp", "created")
INGEST_DELAY = pd.Timedelta(minutes=5)  # `created` trails the event: files land after the fact


@dataclass(frozen=True)
class SourceTables:
    profiles: pd.DataFrame  # KEYS + PROFILE_FEATURES, one row per account change
    activity: pd.DataFrame  # KEYS + ACTIVITY_FEATURES, one row per customer and day
    labels: pd.DataFrame  # customer_id, event_timestamp, churned: the training entity frame


def synthesize(customers: int, days: int, end: pd.Timestamp, seed: int = 7,
               first_customer: int = 0, label_hours: float = 24.0) -> SourceTables:
    """`customers` accounts observed for `days` days up to `end` (UTC).

    Every profile starts at the first day; a tenth of the accounts change plan mid-way (new
    monthly charges), so "latest value" and point-in-time joins have something to get right.
    Activity on the last day is the churn dataset's own; earlier days are noisy versions of it.
    """
    if customers < 1 or days < 1:
        raise ValueError(f"need at least one customer and one day, got {customers} and {days}")
    end = pd.Timestamp(end).tz_convert("UTC") if pd.Timestamp(end).tzinfo else pd.Timestamp(end, tz="UTC")
    start = end - pd.Timedelta(days=days)
    rng = np.random.default_rng(seed)
    base = generate(customers, seed=seed, first_customer=first_customer)
    ids = base["customer_id"].to_numpy()

    first = pd.DataFrame({"customer_id": ids})
    first["event_timestamp"] = start + pd.to_timedelta(rng.uniform(0, 3600, customers), unit="s")
    first["tenure_months"] = base["tenure_months"].to_numpy()
    first["monthly_charges"] = base["monthly_charges"].to_numpy()
    for name in CATEGORIES:
        first[name] = base[name].astype(str).to_numpy()
    changed = first.sample(frac=0.1, random_state=seed).copy()
    changed["event_timestamp"] = start + pd.to_timedelta(rng.uniform(0.25, 0.75, len(changed)) * days, unit="D")
    changed["monthly_charges"] = changed["monthly_charges"] * 1.1
    profiles = pd.concat([first, changed], ignore_index=True)
    profiles["total_charges"] = profiles["tenure_months"] * profiles["monthly_charges"]

    frames = []
    for day in range(days):
        noise = 1.0 if day == days - 1 else rng.uniform(0.8, 1.2, customers)
        frames.append(pd.DataFrame({
            "customer_id": ids,
            "event_timestamp": start + pd.Timedelta(days=day + 1) - pd.to_timedelta(rng.uniform(60, 3600, customers), unit="s"),
            "support_calls": np.round(base["support_calls"].to_numpy() * noise),
            "usage_gb": base["usage_gb"].to_numpy() * noise,
            "days_since_login": base["days_since_login"].to_numpy() * noise,
        }))
    activity = pd.concat(frames, ignore_index=True)

    for frame in (profiles, activity):
        frame["event_timestamp"] = to_microseconds(frame["event_timestamp"])
        frame["created"] = frame["event_timestamp"] + INGEST_DELAY
    # Outcomes are observed over the last `label_hours` (not all at one instant): training holds out
    # the most recent ones, as it would with real, trickling labels.
    observed = end - pd.to_timedelta(rng.uniform(0, label_hours * 3600, customers), unit="s")
    labels = pd.DataFrame({"customer_id": ids, "event_timestamp": to_microseconds(pd.Series(observed)),
                           "churned": base["churned"].to_numpy()})
    return SourceTables(
        profiles=profiles[list(KEYS + PROFILE_FEATURES)].sort_values("event_timestamp", ignore_index=True),
        activity=activity[list(KEYS + ACTIVITY_FEATURES)],
        labels=labels,
    )


def to_microseconds(stamps: pd.Series) -> pd.Series:
    """Timestamps at the precision Feast keeps (protobuf Timestamp -> datetime): with nanoseconds,
    materialisation raises a pandas warning per row, a fifth of its time (docs/benchmarks.md)."""
    return stamps.dt.floor("us")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> (bucket, "some/prefix")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected an s3://bucket/prefix URI, got {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def daily_files(frame: pd.DataFrame, prefix: str) -> dict[str, pd.DataFrame]:
    """Object key -> rows, one parquet file per UTC day of `event_timestamp`."""
    days = frame["event_timestamp"].dt.strftime("%Y-%m-%d")
    return {f"{prefix}/{day}.parquet": part.reset_index(drop=True) for day, part in frame.groupby(days)}


def write_tables(s3, data_uri: str, tables: SourceTables) -> list[str]:
    """Upload the sources under `data_uri` (labels to <data_uri>/labels/, and the list of every
    customer, `customer_id` only, to <data_uri>/customers/: the entity table batch scoring scores
    nightly, docs/scoring.md); returns the keys written."""
    bucket, root = split_uri(data_uri)
    customers = pd.DataFrame({"customer_id": pd.unique(tables.profiles["customer_id"])}).sort_values(
        "customer_id", ignore_index=True)
    files = {
        f"{root}/customers/customers.parquet": customers,
        **daily_files(tables.profiles, f"{root}/customer_profile"),
        **daily_files(tables.activity, f"{root}/customer_activity"),
        **daily_files(tables.labels, f"{root}/labels"),
    }
    for key, frame in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=parquet_bytes(frame))
    return sorted(files)
