"""Post-deploy smoke test: MLflow health and auth, a logged and read-back run, S3, Redis."""
