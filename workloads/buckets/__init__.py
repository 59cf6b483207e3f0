"""Create the platform's buckets idempotently, with versioning on and anonymous access denied."""
