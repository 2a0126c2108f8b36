"""Benchmarks: ``python -m bench`` (or ``make bench``) prints the figures."""
