"""Benchmarks run by `make bench`; results in build/bench/*.json and docs/benchmarks.md."""
