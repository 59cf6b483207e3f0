"""The platform's Feast repository: customer-churn features (shipped to the cluster in a ConfigMap).

Two sources in the offline store, parquet files in S3:
  <FEATURE_DATA_URI>/customer_profile/   slowly changing account facts, one row per change
  <FEATURE_DATA_URI>/customer_activity/  one row per customer and day
Both carry `event_timestamp` (when the fact became true) and `created` (when it was written;
write a correction with a later event_timestamp, docs/feature-store.md). The S3 endpoint comes from AWS_ENDPOINT_URL, the same
variable pyarrow and boto3 read, and is stored in the registry by `feast apply`.

This file imports nothing but Feast: `feast apply` loads it from a plain directory.
"""

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, String


def _required_env(name: str, example: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"feature repository: environment variable {name} is not set (for example {example})")
    return value.rstrip("/")


DATA_URI = _required_env("FEATURE_DATA_URI", "s3://features/churn")
S3_ENDPOINT = _required_env("AWS_ENDPOINT_URL", "http://object-store:9000")

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A customer account.",
)

customer_profile_source = FileSource(
    name="customer_profile_source",
    path=f"{DATA_URI}/customer_profile/",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    s3_endpoint_override=S3_ENDPOINT,
)

customer_activity_source = FileSource(
    name="customer_activity_source",
    path=f"{DATA_URI}/customer_activity/",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
    s3_endpoint_override=S3_ENDPOINT,
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    # Accounts change rarely; a profile older than this is too stale to train or serve on.
    ttl=timedelta(days=90),
    schema=[
        Field(name="tenure_months", dtype=Float64),
        Field(name="monthly_charges", dtype=Float64),
        Field(name="total_charges", dtype=Float64),
        Field(name="contract", dtype=String),
        Field(name="payment_method", dtype=String),
        Field(name="internet_service", dtype=String),
        Field(name="region", dtype=String),
    ],
    source=customer_profile_source,
    online=True,
    tags={"team": "mlops-platform"},
)

customer_activity = FeatureView(
    name="customer_activity",
    entities=[customer],
    # Daily snapshots: older than two days means the pipeline stopped, not "no activity".
    ttl=timedelta(days=2),
    schema=[
        Field(name="support_calls", dtype=Float64),
        Field(name="usage_gb", dtype=Float64),
        Field(name="days_since_login", dtype=Float64),
    ],
    source=customer_activity_source,
    online=True,
    tags={"team": "mlops-platform"},
)

churn_model_v1 = FeatureService(
    name="churn_model_v1",
    features=[customer_profile, customer_activity],
    description="Inputs of the churn classifier (workloads.training run).",
)
