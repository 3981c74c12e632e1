"""Dagster wiring. Each module exposes `defs`; `jobops_dagster.definitions` merges them."""
