"""Prometheus metric names the platform's processes export: the contract between the workloads
that export them and the alert rules and dashboards that read them (platform_components/).

Pure constants, no prometheus_client import: the Pulumi program reads them without the workloads'
packages. Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/):
`mlops_` namespace, base units (seconds, bytes), `_total` for counters, `_timestamp_seconds` for
Unix times.
"""

from __future__ import annotations

# The model server (workloads/serving/metrics.py), scraped from each pod's /metrics.
SERVING_REQUESTS = "mlops_serving_requests_total"  # counter {endpoint, status}: status is the HTTP code
SERVING_LATENCY = "mlops_serving_request_duration_seconds"  # histogram {endpoint}
SERVING_ROWS_SCORED = "mlops_serving_rows_scored_total"
SERVING_ROWS_LOGGED = "mlops_serving_rows_logged_total"
SERVING_LOG_ROWS_DROPPED = "mlops_serving_log_rows_dropped_total"  # counter {reason}
SERVING_LOG_VALUES_NULLED = "mlops_serving_log_values_nulled_total"  # counter {column}
SERVING_LOG_WRITER_RESTARTS = "mlops_serving_log_writer_restarts_total"
SERVING_LOG_FLUSH_FAILURES = "mlops_serving_log_flush_failures_total"
SERVING_MODEL_VERSION = "mlops_serving_model_version"  # gauge {model, pid}, one sample per live worker
SERVING_MODEL_LOADS = "mlops_serving_model_loads_total"  # counter {outcome}: loaded | failed
# Seconds; a small request scores in milliseconds, a cold or overloaded one in seconds. The latency
# SLO must be one of these boundaries: the share of slow requests is read off one bucket.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Every reason a scored row can miss the prediction log (workloads/serving/prediction_log.py).
LOG_DROP_REASONS = ("buffer_full", "writer_died", "writer_down", "unencodable", "unreadable", "closed",
                    "shutdown_timeout")
MODEL_LOAD_OUTCOMES = ("loaded", "failed")

# Batch Jobs' outcomes, pushed to the Pushgateway (workloads/outcomes.py) under the grouping key
# {job, model}: `job` one of BATCH_JOBS, `model` the registered model (absent for backups).
JOB_LAST_RUN = "mlops_job_last_run_timestamp_seconds"
JOB_LAST_SUCCESS = "mlops_job_last_success_timestamp_seconds"  # kept from the last good run
JOB_LAST_FAILURE = "mlops_job_last_failure_timestamp_seconds"  # kept from the last failed run
JOB_SUCCEEDED = "mlops_job_succeeded"  # 1 if the last run succeeded, else 0
JOB_EXIT_CODE = "mlops_job_exit_code"  # of the last run (docs/operations.md lists the codes)
JOB_DURATION = "mlops_job_duration_seconds"  # of the last run
JOB_ROWS = "mlops_job_rows"  # rows the last run read (predictions, training rows, features)
DRIFT_DATASET_DRIFT = "mlops_drift_dataset_drift"  # 1 if the last interval drifted, else 0
DRIFT_DRIFTED_FEATURES = "mlops_drift_drifted_features"
DRIFT_TESTED_FEATURES = "mlops_drift_tested_features"
DRIFT_MIN_P_VALUE = "mlops_drift_min_adjusted_p_value"  # smallest p-value of the family, after correction
DRIFT_AUC = "mlops_drift_auc"  # on the interval's predictions once their labels landed
DRIFT_PERFORMANCE_FLOOR = "mlops_drift_performance_floor"
TRAINING_PROMOTED = "mlops_training_challenger_promoted"  # 1 promoted, 0 kept the champion
TRAINING_CHAMPION_VERSION = "mlops_training_champion_version"
BACKUP_NEWEST = "mlops_backup_newest_timestamp_seconds"  # newest backup written
BACKUP_NEWEST_VERIFIED = "mlops_backup_newest_verified_timestamp_seconds"  # newest restored and checked

DRIFT_JOB = "drift"
TRAINING_JOB = "training"
BACKUP_JOB = "postgres-backup"
VERIFY_JOB = "postgres-verify"
MATERIALIZE_JOB = "feast-materialize"
SCORING_JOB = "batch-scoring"
BATCH_JOBS = (DRIFT_JOB, TRAINING_JOB, BACKUP_JOB, VERIFY_JOB, MATERIALIZE_JOB, SCORING_JOB)
