"""Immune SDK: a typed client for the Immune control API, and immunectl."""
