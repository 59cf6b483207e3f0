"""Data-drift monitoring: statistics engine, reports, Airflow-style intervals, the scheduled job."""
