"""Benchmarks: plain scripts run with `python -m benchmarks.NAME`."""
