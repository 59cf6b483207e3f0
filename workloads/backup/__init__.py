"""Postgres backups to the object store: `python -m workloads.backup backup|restore|list`."""
