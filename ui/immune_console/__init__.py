"""Immune: the operator console."""
