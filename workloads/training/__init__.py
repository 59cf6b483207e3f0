"""Continuous training: challenger vs champion on fresh data, and promotion between environments."""
