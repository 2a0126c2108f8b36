"""Plumbing shared by the Immune services: config loading, logging, small HTTP helpers."""
