"""Batch (offline) scoring: a registered model's alias scores a whole table, written atomically
and logged to the prediction log like served traffic (docs/scoring.md)."""
