"""Materialization into the online store and online reads."""
