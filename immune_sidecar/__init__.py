"""Immune sidecar: OTLP in, vitals, baselines, detection, local quarantine."""
