"""Online serving: the champion model behind MLflow's scoring protocol, every prediction logged."""
