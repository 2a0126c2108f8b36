"""Immune: the central control service."""
