"""The platform's example domain: a seeded, synthetic customer-churn dataset.

Shared by the drift monitor (reference vs prediction logs) and the feature store. Rows are
customers observed at a timestamp; `churned` follows a logistic model of the features, so a
model trained on it learns something real. `shift` moves numeric features by a number of their
standard deviations, to make drifted data on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CATEGORIES = {
    "contract": ["month-to-month", "one-year", "two-year"],
    "payment_method": ["card", "bank-transfer", "electronic-check", "mailed-check"],
    "internet_service": ["fiber", "dsl", "none"],
    "region": ["north", "south", "east", "west", "central"],
}
CATEGORY_WEIGHTS = {
    "contract": [0.55, 0.25, 0.20],
    "payment_method": [0.30, 0.25, 0.30, 0.15],
    "internet_service": [0.45, 0.40, 0.15],
    "region": [0.22, 0.18, 0.20, 0.25, 0.15],
}
NUMERIC = ("tenure_months", "monthly_charges", "support_calls", "usage_gb", "days_since_login")
FEATURES = NUMERIC + tuple(CATEGORIES)


@dataclass(frozen=True)
class Drift:
    """What to change in generated data: numeric mean shifts in standard deviations, and
    categorical weights replaced."""

    numeric_shift: dict[str, float] | None = None
    category_weights: dict[str, list[float]] | None = None


def generate(rows: int, seed: int, start: str | pd.Timestamp = "2026-01-01", days: float = 1.0,
             drift: Drift | None = None, first_customer: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drift = drift or Drift()
    shift = drift.numeric_shift or {}
    weights = {**CATEGORY_WEIGHTS, **(drift.category_weights or {})}

    tenure = rng.gamma(2.0, 12.0, rows)
    monthly = rng.normal(70.0, 20.0, rows)
    calls = rng.poisson(1.5, rows).astype(np.float64)
    usage = rng.lognormal(3.0, 0.6, rows)
    login = rng.exponential(7.0, rows)
    numeric = {"tenure_months": tenure, "monthly_charges": monthly, "support_calls": calls,
               "usage_gb": usage, "days_since_login": login}
    for name, sd_shift in shift.items():
        numeric[name] = numeric[name] + sd_shift * numeric[name].std()

    frame = pd.DataFrame(numeric)
    for name, labels in CATEGORIES.items():
        codes = rng.choice(len(labels), size=rows, p=weights[name])
        frame[name] = pd.Categorical.from_codes(codes, categories=labels)

    logit = (-1.0 - 0.04 * frame["tenure_months"] + 0.02 * (frame["monthly_charges"] - 70)
             + 0.35 * frame["support_calls"] + 0.05 * frame["days_since_login"]
             + 1.2 * (frame["contract"] == "month-to-month") - 0.8 * (frame["contract"] == "two-year")
             + 0.4 * (frame["payment_method"] == "electronic-check"))
    frame["churned"] = (rng.random(rows) < 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))).astype(np.int64)
    frame.insert(0, "customer_id", np.arange(first_customer, first_customer + rows, dtype=np.int64))
    offsets = np.sort(rng.random(rows)) * days * 86_400
    frame.insert(1, "event_timestamp", pd.Timestamp(start, tz="UTC") + pd.to_timedelta(offsets, unit="s"))
    return frame
