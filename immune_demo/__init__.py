"""Immune: the simulated demo fleet."""
