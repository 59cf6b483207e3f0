"""The feature store's workloads: source data, staging the Feast repository, materialisation, training."""
