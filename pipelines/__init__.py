"""Prefect flows and the `callqa` command line, wiring the `qa` library into batch runs."""
