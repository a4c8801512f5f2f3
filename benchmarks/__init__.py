"""Benchmarks: `nox -s bench` (or `python -m benchmarks [NAME ...] [--quick]`). Not tests: they report ratios."""
