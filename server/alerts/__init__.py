"""Unusual accesses: rules over the trace, review cases for the establishment's privacy
officer, the patient's notices, and batched deposit notices (docs/alerts.md)."""
