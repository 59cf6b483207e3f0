"""Per-workload MLflow users and their permissions, converged by a post-deploy Job."""
